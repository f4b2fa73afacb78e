"""Command: end every session of the caller, access tokens included (the revoked-user key, reason logout_all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from services.identity.application.common import Actor, audit_entry, require_signed_in
from services.identity.application.ports import IdentityUnitOfWork, Revocations
from services.identity.domain.sessions import RevokeReason


@dataclass(frozen=True)
class LogoutEverywhere:
    actor: Actor


class LogoutEverywhereHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, revocations: Revocations) -> None:
        self._uow = uow
        self._clock = clock
        self._revocations = revocations

    async def __call__(self, cmd: LogoutEverywhere) -> int:
        user_id = require_signed_in(cmd.actor)
        now = self._clock.now()
        async with self._uow() as uow:
            revoked = await uow.sessions.revoke_all_for_user(user_id, now, RevokeReason.LOGOUT_ALL.value)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="session.logout_everywhere",
                    subject_id=str(user_id),
                    after={"sessions_revoked": len(revoked)},
                )
            )
            await self._revocations.revoke_user(user_id, before=now, reason=RevokeReason.LOGOUT_ALL.value)
            await uow.commit()
        return len(revoked)
