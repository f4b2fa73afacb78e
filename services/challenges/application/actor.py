"""Who asks: the verified caller as the use cases see it (no gRPC types here)."""

from __future__ import annotations

from dataclasses import dataclass

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
