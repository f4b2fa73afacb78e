"""Command: set a user's role (admin, with a reason). The user's sessions end, so no token keeps the old role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, PermissionDenied
from services.identity.application.common import Actor, audit_entry, load_user, parse_user_id, require_admin
from services.identity.application.ports import IdentityUnitOfWork, Revocations
from services.identity.domain.sessions import RevokeReason
from services.identity.domain.user import Role, User, require_reason


@dataclass(frozen=True)
class ChangeRole:
    actor: Actor
    user_id: str
    role: Role | None
    reason: str


class ChangeRoleHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, revocations: Revocations) -> None:
        self._uow = uow
        self._clock = clock
        self._revocations = revocations

    async def __call__(self, cmd: ChangeRole) -> User:
        require_admin(cmd.actor)
        user_id = parse_user_id(cmd.user_id)
        if cmd.role is None:
            raise InvalidArgument("a role is required", field="role")
        reason = require_reason(cmd.reason)
        if str(user_id) == cmd.actor.actor_id:
            raise PermissionDenied("an admin cannot change their own role", reason="PERMISSION_DENIED")
        now = self._clock.now()
        async with self._uow() as uow:
            user = await load_user(uow, user_id, for_update=True)
            before = user.summary()
            user.change_role(cmd.role, now)
            await uow.users.save(user)
            revoked = await uow.sessions.revoke_all_for_user(user_id, now, RevokeReason.LOGOUT_ALL.value)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="user.role_changed",
                    subject_id=str(user_id),
                    before=before,
                    after={**user.summary(), "why": reason, "sessions_revoked": len(revoked)},
                )
            )
            await self._revocations.revoke_user(user_id, before=now, reason=RevokeReason.LOGOUT_ALL.value)
            await uow.commit()
        return user
