"""Make python-hcl2 importable for the structural Terraform tests.

infra/check.sh runs these tests in its own virtualenv (.venv-infra), which has python-hcl2. When the
shared .venv runs the whole suite and python-hcl2 is not installed there, the pure-Python packages of
.venv-infra (same interpreter version) are put on the path instead; check.sh, which `make test` runs
first, creates that virtualenv. Without either, the tests fail with an instruction rather than skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_VENV = REPO_ROOT / ".venv-infra"


def _make_hcl2_importable() -> None:
    try:
        import hcl2
    except ImportError:
        candidates = sorted(
            INFRA_VENV.glob(f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages")
        )
        if not candidates:
            raise ImportError(
                "python-hcl2 is needed by tests/infra: run `bash infra/check.sh` once (it creates .venv-infra), "
                "or `pip install python-hcl2==8.1.4`"
            ) from None
        sys.path.append(str(candidates[0]))
        import hcl2  # noqa: F401


_make_hcl2_importable()
