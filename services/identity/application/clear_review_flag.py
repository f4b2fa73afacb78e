"""Command: staff clear a user's review flag after looking into it, with a reason (audited).

Support or admin, signed in with TOTP: reviewing is support's job, and clearing a flag takes nothing away from
anyone (suspension stays admin-only). The flag is kept, closed, as the record of the review.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, NotFound
from services.identity.application.common import Actor, audit_entry, parse_user_id, require_staff
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.review_flags import ReviewFlag


@dataclass(frozen=True)
class ClearReviewFlag:
    actor: Actor
    user_id: str
    flag_id: str
    reason: str


class ClearReviewFlagHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, cmd: ClearReviewFlag) -> ReviewFlag:
        require_staff(cmd.actor)
        user_id = parse_user_id(cmd.user_id)
        try:
            flag_id = UUID((cmd.flag_id or "").strip())
        except ValueError:
            raise InvalidArgument("a flag id (UUID) is required", field="flag_id") from None
        now = self._clock.now()
        async with self._uow() as uow:
            flag = await uow.review_flags.get(flag_id, for_update=True)
            if flag is None or flag.user_id != user_id:
                # A flag of another user is "not found" for this URL, never cleared through it.
                raise NotFound(f"user {user_id} has no review flag {flag_id}", reason="REVIEW_FLAG_NOT_FOUND")
            before = flag.summary()
            flag.clear(by=cmd.actor.actor_id, reason=cmd.reason, at=now)
            await uow.review_flags.save(flag)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="user.review_flag_cleared",
                    subject_id=str(user_id),
                    before=before,
                    after=flag.summary(),
                )
            )
            await uow.commit()
        return flag
