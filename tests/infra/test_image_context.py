"""What the Dockerfile copies into the image is enough to start every entry point, and nothing more.

The build stage's COPY lines are replayed into a temporary directory, the protobuf code is generated
there the way the Dockerfile does, and each command of a task definition is imported in a fresh
interpreter that sees only that directory and the installed dependencies (no editable install of
the repository, no devstack), as inside the container.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = [
    "gateway.main",
    "services.identity.main",
    "services.challenges.main",
    "services.rules.main",
    "services.payouts.main",
    "libs.platform.migrate",
    "infra.docker.healthcheck",
]


def build_stage_copies() -> list[str]:
    """Sources of the build stage's `COPY <src> <dest>` lines (not the runtime stage's COPY --from)."""
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    build_stage = dockerfile.split("AS runtime")[0]
    sources = []
    for match in re.finditer(r"^COPY (?!--from)(.+?) \S+$", build_stage, re.MULTILINE):
        sources.extend(match.group(1).split())
    return sources


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("image") / "app"
    root.mkdir()
    for source in build_stage_copies():
        origin = REPO_ROOT / source.rstrip("/")
        target = root / source.rstrip("/")
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    generated = run_in_image(root, ["-m", "libs.platform.protogen", "--force"])
    assert generated.returncode == 0, generated.stderr
    return root


def run_in_image(root: Path, arguments: list[str]) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "gen" / "python"), sysconfig.get_paths()["purelib"]]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # -S: no site-packages processing, so the repository's editable install cannot leak in.
    return subprocess.run(
        [sys.executable, "-S", *arguments], cwd=root, env=environment, capture_output=True, text=True, timeout=120
    )


def test_the_build_stage_copies_the_code_and_the_lock_but_not_the_devstack_or_tests():
    sources = {source.rstrip("/") for source in build_stage_copies()}
    assert {"requirements.lock", "proto", "libs", "services", "gateway", "infra/docker"} <= sources
    assert not sources & {"devstack", "tests", "cli", "benchmarks", "."}


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_entry_point_imports_from_the_image_contents(image_root, module):
    result = run_in_image(image_root, ["-c", f"import importlib; importlib.import_module({module!r})"])
    assert result.returncode == 0, result.stderr


def test_the_devstack_is_not_in_the_image(image_root):
    result = run_in_image(image_root, ["-c", "import devstack"])
    assert "No module named 'devstack'" in result.stderr
