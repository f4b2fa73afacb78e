"""What suspension, reinstatement and termination share: admin only, a reason, the change audited, and every
token of the user cut off through the revoked-user key in the same breath as the database change.

The Redis key is written before the transaction commits: if Redis fails the change is rolled back and the admin
sees the error; the opposite order could leave a suspended user's tokens working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import PermissionDenied
from services.identity.application.common import Actor, audit_entry, load_user, parse_user_id, require_admin
from services.identity.application.ports import IdentityUnitOfWork, Revocations
from services.identity.domain.user import User, require_reason


@dataclass(frozen=True)
class ChangeAccountStatus:
    actor: Actor
    user_id: str
    reason: str


async def change_account_status(
    uow_factory: Callable[[], IdentityUnitOfWork],
    clock: Clock,
    revocations: Revocations,
    cmd: ChangeAccountStatus,
    *,
    action: str,
    revocation_reason: str,
    revoke_sessions: bool,
) -> User:
    require_admin(cmd.actor)
    user_id = parse_user_id(cmd.user_id)
    reason = require_reason(cmd.reason)
    if str(user_id) == cmd.actor.actor_id:
        raise PermissionDenied("an admin cannot change their own account's status", reason="PERMISSION_DENIED")
    now = clock.now()
    async with uow_factory() as uow:
        user = await load_user(uow, user_id, for_update=True)
        before = user.summary()
        getattr(user, action)(reason, now)
        await uow.users.save(user)
        revoked = []
        if revoke_sessions:
            revoked = await uow.sessions.revoke_all_for_user(user_id, now, revocation_reason)
        await uow.audit.append(
            audit_entry(
                at=now,
                actor_id=cmd.actor.actor_id,
                actor_role=cmd.actor.role,
                ip=cmd.actor.ip,
                action=f"user.{user.status.value}",
                subject_id=str(user_id),
                before=before,
                after={**user.summary(), "sessions_revoked": len(revoked)},
            )
        )
        await revocations.revoke_user(user_id, before=now, reason=revocation_reason)
        await uow.commit()
    return user
