"""Every checkov skip in the infrastructure code carries its reason inline.

A skip is written `#checkov:skip=<CHECK_ID>:<reason>` inside the block it applies to; a skip without
a reason (or with a token one) would hide a finding without telling the next reader why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCANNED = [
    *sorted((REPO_ROOT / "infra" / "terraform").rglob("*.tf")),
    REPO_ROOT / "Dockerfile",
    *sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml")),
]
SKIP = re.compile(r"checkov:skip=(?P<rest>\S.*)$")
WELL_FORMED = re.compile(r"^(?P<check>CKV2?_[A-Z]+_\d+):(?P<reason>.+)$")
MINIMUM_REASON_WORDS = 6


def skip_problems(line: str) -> list[str]:
    match = SKIP.search(line)
    if not match:
        return []
    well_formed = WELL_FORMED.match(match.group("rest").strip())
    if not well_formed:
        return [f"not CHECK_ID:reason: {line.strip()}"]
    if len(well_formed.group("reason").split()) < MINIMUM_REASON_WORDS:
        return [f"reason too short to explain anything: {line.strip()}"]
    return []


def all_skips() -> list[tuple[Path, int, str]]:
    return [
        (path, number, line)
        for path in SCANNED
        if path.is_file()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "checkov:skip=" in line
    ]


def test_the_code_has_skips_to_check():
    # Several are expected (ALB logs on SSE-S3, CloudFront logging v2, ...); none would mean the scan looks nowhere.
    assert len(all_skips()) >= 10


def test_every_checkov_skip_names_a_check_and_gives_a_reason():
    problems = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {problem}"
        for path, number, line in all_skips()
        for problem in skip_problems(line)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("  #checkov:skip=CKV_AWS_145:ALB access logs can only be delivered to SSE-S3 buckets.", True),
        ("  #checkov:skip=CKV2_AWS_62", False),
        ("  #checkov:skip=CKV_AWS_18:not needed", False),
        ("  # checkov:skip=CKV_AWS_18 because logs", False),
    ],
)
def test_a_skip_without_a_real_reason_is_reported(line, ok):
    assert (skip_problems(line) == []) is ok
