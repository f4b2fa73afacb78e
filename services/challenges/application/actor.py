"""Who asks: the verified caller as the use cases see it (no gRPC types here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.domain.audit import AuditEntry
from libs.domain.errors import PermissionDenied

STAFF = frozenset({"support", "admin"})


@dataclass(frozen=True)
class Caller:
    actor_id: str
    role: str
    ip: str | None = None
    token: str | None = None  # the caller's bearer token, for calls made on their behalf (identity's GetMe)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def require_role(caller: Caller, *roles: str, action: str) -> None:
    if caller.role not in roles:
        raise PermissionDenied(f"only {' or '.join(roles)} may {action}", reason="PERMISSION_DENIED")


def audit_by(
    caller: Caller,
    *,
    at: datetime,
    action: str,
    subject_type: str,
    subject_id: str,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """The audit entry of a change this caller asked for. Who did it, in which role and from where is taken from the
    caller here, once, so every use case attributes its changes alike."""
    return AuditEntry(
        occurred_at=at,
        actor_id=caller.actor_id,
        actor_role=caller.role,
        ip=caller.ip,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
    )
