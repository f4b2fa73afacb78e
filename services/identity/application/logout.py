"""Command: end one session (its refresh-token family now, its access tokens through the Redis key)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, PermissionDenied
from services.identity.application.common import Actor, audit_entry, digest
from services.identity.application.ports import IdentityUnitOfWork, Revocations
from services.identity.domain.sessions import RevokeReason


@dataclass(frozen=True)
class Logout:
    actor: Actor
    refresh_token: str


class LogoutHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, revocations: Revocations) -> None:
        self._uow = uow
        self._clock = clock
        self._revocations = revocations

    async def __call__(self, cmd: Logout) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            session_id = await self._session_of(uow, cmd)
            if session_id is None:
                return  # an unknown or spent refresh token: nothing to end, and nothing to reveal
            session = await uow.sessions.get(session_id)
            if session is None:
                return
            if cmd.actor.role != "anonymous" and cmd.actor.actor_id != str(session.user_id):
                raise PermissionDenied("this is not your session", reason="PERMISSION_DENIED")
            if await uow.sessions.revoke(session_id, now, RevokeReason.LOGOUT.value):
                await uow.audit.append(
                    audit_entry(
                        at=now,
                        actor_id=str(session.user_id),
                        actor_role=cmd.actor.role,
                        ip=cmd.actor.ip,
                        action="session.logout",
                        subject_type="session",
                        subject_id=str(session_id),
                    )
                )
            await self._revocations.revoke_session(session_id)
            await uow.commit()

    async def _session_of(self, uow: IdentityUnitOfWork, cmd: Logout) -> UUID | None:
        if cmd.refresh_token:
            token = await uow.sessions.get_refresh_token(digest(cmd.refresh_token))
            return token.family_id if token else None
        if cmd.actor.session_id:
            return UUID(cmd.actor.session_id)
        raise InvalidArgument("the session's refresh token is required", field="refresh_token")
