"""TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) and one-time recovery codes.

Policy: a code is accepted for the current step or one step either side (clock drift on a phone), and each step
is accepted once per user (`last_used_step`), so a code seen over a shoulder cannot be replayed within its minute.
Recovery codes are 10 groups of random base32 characters, shown once, stored as hashes, each usable once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
ISSUER = "Dynasty Futures"


def new_secret() -> str:
    """160 random bits, base32 (RFC 4226 recommends at least 128, 160 being the SHA-1 block's natural size)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def step_at(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, at: datetime, last_used_step: int | None) -> int | None:
    """The step a code belongs to if it is valid now and not already used, else None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = step_at(at)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(code_for_step(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, account_name: str) -> str:
    from urllib.parse import quote

    label = quote(f"{ISSUER}:{account_name}")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER)}&algorithm=SHA1&digits={DIGITS}"
        f"&period={STEP_SECONDS}"
    )


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2)) for _ in range(count)]


def normalise_recovery_code(code: str) -> str:
    return (code or "").strip().upper().replace(" ", "").replace("-", "")
