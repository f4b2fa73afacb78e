"""Command: a support or admin decision on a KYC case, with notes (required), audited with the before and after.

Only pending and needs_review cases can be decided (domain/kyc.py); anything else is an InvalidTransition that
names the current state, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument
from services.identity.application.common import Actor, audit_entry, load_user, parse_user_id, require_staff
from services.identity.application.kyc_ports import KycUnitOfWork
from services.identity.domain.kyc import KycCase, ReviewDecision, require_notes


@dataclass(frozen=True)
class ReviewKyc:
    actor: Actor
    user_id: str
    decision: ReviewDecision | None
    notes: str


class ReviewKycHandler:
    def __init__(self, uow: Callable[[], KycUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, cmd: ReviewKyc) -> KycCase:
        require_staff(cmd.actor)
        user_id = parse_user_id(cmd.user_id)
        if cmd.decision is None:
            raise InvalidArgument("a decision is required", field="decision")
        notes = require_notes(cmd.notes)
        now = self._clock.now()
        async with self._uow() as uow:
            await load_user(uow, user_id)
            case = await uow.kyc.get(user_id, for_update=True) or KycCase.new(user_id, now)
            before = case.summary()
            case.review(cmd.decision, cmd.actor.actor_id, notes, now)
            await uow.kyc.save(case)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="kyc.reviewed",
                    subject_id=str(user_id),
                    before=before,
                    after={**case.summary(), "decision": cmd.decision.value, "notes": notes},
                )
            )
            await uow.commit()
        return case
