"""Sessions and their refresh-token families.

A session is one sign-in; its id is the family id of its refresh tokens. Each refresh rotates the token: the
presented one is spent (rotated_at) and a new one names it as rotated_from. Presenting a spent token again means
it was copied (by an attacker or a confused client), and since we cannot tell which, the whole family (the session)
is revoked: the legitimate holder signs in again, the thief's copy is dead. (OAuth 2.0 Security BCP, 4.14.2.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
MFA_CHALLENGE_LIFETIME = timedelta(minutes=5)
MFA_CHALLENGE_MAX_ATTEMPTS = 5
STEP_UP_FRESHNESS = timedelta(minutes=5)


class RefreshVerdict(StrEnum):
    ROTATE = "rotate"
    REUSE_DETECTED = "reuse_detected"  # revoke the family
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class RefreshTokenState:
    token_hash: str
    family_id: UUID
    user_id: UUID
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    family_revoked: bool


def judge_refresh(token: RefreshTokenState, now: datetime) -> RefreshVerdict:
    if token.family_revoked or token.revoked_at is not None:
        return RefreshVerdict.REVOKED
    if token.rotated_at is not None:
        return RefreshVerdict.REUSE_DETECTED
    if now >= token.expires_at:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


class RevokeReason(StrEnum):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    REFRESH_REUSE = "refresh_reuse"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


@dataclass
class Session:
    session_id: UUID
    user_id: UUID
    amr: tuple[str, ...]
    mfa_at: datetime | None
    ip: str | None
    user_agent: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class MfaChallenge:
    token_hash: str
    user_id: UUID
    amr: tuple[str, ...]
    expires_at: datetime
    consumed_at: datetime | None
    failed_attempts: int

    def usable(self, now: datetime) -> bool:
        return self.consumed_at is None and now < self.expires_at and self.failed_attempts < MFA_CHALLENGE_MAX_ATTEMPTS
