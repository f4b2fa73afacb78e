"""Login history: one record per sign-in attempt, and what counts as a device."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class LoginOutcome(StrEnum):
    OK = "ok"
    MFA_REQUIRED = "mfa_required"
    BAD_PASSWORD = "bad_password"
    UNKNOWN_EMAIL = "unknown_email"
    NOT_VERIFIED = "not_verified"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    IP_NOT_ALLOWED = "ip_not_allowed"
    COUNTRY_BLOCKED = "country_blocked"
    BAD_MFA_CODE = "bad_mfa_code"


@dataclass(frozen=True)
class LoginEvent:
    user_id: UUID | None
    occurred_at: datetime
    ip: str | None
    user_agent: str | None
    country: str | None
    outcome: LoginOutcome
    new_device: bool = False
    event_id: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (LoginOutcome.OK, LoginOutcome.MFA_REQUIRED)


def device_fingerprint(user_agent: str | None) -> str:
    """A device is its browser/app identity string. IPs change with every network, so they are not part of it;
    the fingerprint is hashed so the table holds no free text to leak."""
    return hashlib.sha256((user_agent or "unknown").strip().encode()).hexdigest()
