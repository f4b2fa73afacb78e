"""A stable fingerprint of a request's parameters, for idempotency keys (same key + other parameters = refused)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
