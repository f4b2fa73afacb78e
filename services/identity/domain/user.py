"""The user: who they are (email), what they may do (role) and where their account stands (status).

The status lifecycle is an explicit transition table; anything else is an InvalidTransition:

    pending_verification --verify--> active --suspend--> suspended --reinstate--> active
    pending_verification | active | suspended --terminate--> terminated (final)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from libs.domain.aggregate import Aggregate
from libs.domain.errors import FailedPrecondition, InvalidArgument, InvalidTransition
from libs.domain.events import DomainEvent


class Role(StrEnum):
    TRADER = "trader"
    SUPPORT = "support"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self in (Role.SUPPORT, Role.ADMIN)


class UserStatus(StrEnum):
    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class KycStatus(StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"


TRANSITIONS: dict[tuple[UserStatus, str], UserStatus] = {
    (UserStatus.PENDING_VERIFICATION, "verify"): UserStatus.ACTIVE,
    (UserStatus.ACTIVE, "suspend"): UserStatus.SUSPENDED,
    (UserStatus.SUSPENDED, "reinstate"): UserStatus.ACTIVE,
    (UserStatus.PENDING_VERIFICATION, "terminate"): UserStatus.TERMINATED,
    (UserStatus.ACTIVE, "terminate"): UserStatus.TERMINATED,
    (UserStatus.SUSPENDED, "terminate"): UserStatus.TERMINATED,
}

# Deliberately loose (RFC 5321 allows far more than any regex checks well): one @, a dotted domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
MAX_REASON_LENGTH = 1000


def normalise_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise InvalidArgument("a valid email address is required", field="email")
    return email


def require_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidArgument("a reason is required", field="reason")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidArgument(f"the reason is longer than {MAX_REASON_LENGTH} characters", field="reason")
    return text


@dataclass(frozen=True, kw_only=True)
class UserRegistered(DomainEvent):
    user_id: UUID
    role: str


@dataclass(frozen=True, kw_only=True)
class UserStatusChanged(DomainEvent):
    user_id: UUID
    status: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class UserRoleChanged(DomainEvent):
    user_id: UUID
    role: str


@dataclass(eq=False)
class User(Aggregate):
    user_id: UUID
    email: str
    role: Role
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    email_verified_at: datetime | None = None
    status_reason: str = ""
    mfa_enabled: bool = False
    kyc_status: KycStatus = KycStatus.NOT_STARTED
    version: int = 1
    _events: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._events = []

    @property
    def aggregate_id(self) -> str:
        return str(self.user_id)

    @classmethod
    def register(cls, user_id: UUID, email: str, at: datetime, role: Role = Role.TRADER) -> User:
        user = cls(
            user_id=user_id,
            email=normalise_email(email),
            role=role,
            status=UserStatus.PENDING_VERIFICATION,
            created_at=at,
            updated_at=at,
            version=0,
        )
        user._record_event(UserRegistered(occurred_at=at, user_id=user_id, role=role.value))
        user._touch(at)
        return user

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def may_sign_in(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def _move(self, action: str, at: datetime, reason: str) -> UserStatus:
        target = TRANSITIONS.get((self.status, action))
        if target is None:
            raise InvalidTransition("user", self.status.value, action)
        before = self.status
        self.status = target
        self.status_reason = reason
        self._record_event(UserStatusChanged(occurred_at=at, user_id=self.user_id, status=target.value, reason=reason))
        self._touch(at)
        return before

    def verify_email(self, at: datetime) -> None:
        self._move("verify", at, "")
        self.email_verified_at = at

    def suspend(self, reason: str, at: datetime) -> None:
        self._move("suspend", at, require_reason(reason))

    def reinstate(self, reason: str, at: datetime) -> None:
        self._move("reinstate", at, require_reason(reason))

    def terminate(self, reason: str, at: datetime) -> None:
        self._move("terminate", at, require_reason(reason))

    def change_role(self, role: Role, at: datetime) -> Role:
        if self.status is UserStatus.TERMINATED:
            raise FailedPrecondition("a terminated account's role cannot change", reason="USER_TERMINATED")
        before = self.role
        self.role = role
        self._record_event(UserRoleChanged(occurred_at=at, user_id=self.user_id, role=role.value))
        self._touch(at)
        return before

    def set_mfa_enabled(self, enabled: bool, at: datetime) -> None:
        self.mfa_enabled = enabled
        self._touch(at)

    def _touch(self, at: datetime) -> None:
        self.updated_at = at
        self.version += 1

    def summary(self) -> dict:
        """What the audit log records before and after a change (no secrets, nothing but the account's state)."""
        return {"email": self.email, "role": self.role.value, "status": self.status.value, "reason": self.status_reason}
