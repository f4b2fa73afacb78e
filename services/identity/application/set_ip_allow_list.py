"""Command: set the CIDR ranges a support or admin user may sign in from (admin). Empty clears the list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition
from services.identity.application.common import Actor, audit_entry, load_user, parse_user_id, require_admin
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.ip_controls import parse_cidrs


@dataclass(frozen=True)
class SetIpAllowList:
    actor: Actor
    user_id: str
    cidrs: Sequence[str]


class SetIpAllowListHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, cmd: SetIpAllowList) -> list[str]:
        require_admin(cmd.actor)
        user_id = parse_user_id(cmd.user_id)
        cidrs = parse_cidrs(cmd.cidrs)
        now = self._clock.now()
        async with self._uow() as uow:
            user = await load_user(uow, user_id, for_update=True)
            if not user.role.is_staff:
                raise FailedPrecondition("allow-lists apply to support and admin users", reason="NOT_STAFF")
            before = await uow.allow_lists.get(user_id)
            await uow.allow_lists.replace(user_id, cidrs, now)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="user.ip_allow_list_set",
                    subject_id=str(user_id),
                    before={"cidrs": before},
                    after={"cidrs": cidrs},
                )
            )
            await uow.commit()
        return cidrs
