"""ReviewViolation: an admin upholds or overturns a violation, with a reason; audited in the same transaction.

Overturning a breach takes its triggering event (a bad tick, a busted trade) out of the account's record and
re-evaluates the account from the last snapshot before it, through the same path as live ingestion. When the account
is no longer failed, the platform account is enabled again (a durable job, key `overturn:<violation>:enable`),
monitoring resumes, and AccountBreachOverturned tells challenges to restore the attempt. A conduct violation
overturned only changes its review status. A violation already reviewed is FAILED_PRECONDITION.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.rules.application.current_risk import current_risk
from services.rules.application.integration_events import AccountBreachOverturned
from services.rules.application.monitored_account import MONITORING
from services.rules.application.ports import UnitOfWorkFactory
from services.rules.application.record_decisions import record_decisions
from services.rules.application.risk_runner import replay
from services.rules.application.risk_states import restore
from services.rules.domain.account_risk import AccountStatus

UPHOLD, OVERTURN = "uphold", "overturn"
MAX_REASON = 1000


@dataclass(frozen=True)
class ReviewViolation:
    actor_id: str
    role: str
    ip: str | None
    violation_id: str
    decision: str
    reason: str


@dataclass(frozen=True)
class ReviewOutcome:
    violation: dict
    account_status: str  # the engine's status after the review


class ReviewViolationHandler:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, on_enforcement=lambda: None) -> None:
        self._uow = uow
        self._clock = clock
        self._on_enforcement = on_enforcement

    async def __call__(self, command: ReviewViolation) -> ReviewOutcome:
        if command.role != "admin":
            raise PermissionDenied("only admins review violations", reason="PERMISSION_DENIED")
        if command.decision not in (UPHOLD, OVERTURN):
            raise InvalidArgument("decision must be 'uphold' or 'overturn'", field="decision")
        reason = command.reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidArgument(f"a reason of 1 to {MAX_REASON} characters is required", field="reason")
        try:
            violation_id = uuid.UUID(command.violation_id)
        except ValueError:
            raise InvalidArgument("violation_id must be a UUID", field="violation_id") from None
        now = self._clock.now()
        enforcement = False
        async with self._uow() as uow:
            store = uow.store
            found = await store.get_violation(violation_id)
            if found is None:
                raise NotFound(f"violation {violation_id} does not exist", reason="NOT_FOUND")
            account = await store.get_account(found["account_id"], for_update=True)
            violation = await store.get_violation(violation_id)  # again, under the account's lock
            if violation["review_status"] != "open":
                raise FailedPrecondition(
                    f"violation {violation_id} was already {violation['review_status']}", reason="ALREADY_REVIEWED"
                )
            before, _ = await current_risk(store, account)
            status = "upheld" if command.decision == UPHOLD else "overturned"
            await store.set_review(violation_id, status, command.actor_id, reason, now)
            after_status = before.status
            is_breach = violation["severity"] in ("hard", "soft")
            if command.decision == OVERTURN and is_breach and violation["trigger_event_id"]:
                after_status = await self._reevaluate_without(store, account, violation, before.status)
                if before.status is AccountStatus.FAILED and after_status is not AccountStatus.FAILED:
                    await store.add_job(
                        account,
                        "enable",
                        f"overturn:{violation_id}:enable",
                        {"platform_account_id": account.platform_account_id, "reason": f"breach overturned: {reason}"},
                        now,
                    )
                    await store.set_status(account.account_id, MONITORING)
                    await store.publish(
                        AccountBreachOverturned(
                            occurred_at=now,
                            account_id=str(account.account_id),
                            rule=violation["rule"],
                            at=violation["occurred_at"],
                            reason=reason,
                        ),
                        account,
                        account.last_event_row or 0,
                    )
                    enforcement = True
            await store.audit(
                AuditEntry(
                    occurred_at=now,
                    actor_id=command.actor_id,
                    actor_role=command.role,
                    ip=command.ip,
                    action=f"violation.{status}",
                    subject_type="violation",
                    subject_id=str(violation_id),
                    before={"review_status": "open", "account_status": before.status.value},
                    after={"review_status": status, "account_status": after_status.value, "reason": reason},
                )
            )
            await uow.commit()
            reviewed = await _reread(self._uow, violation_id)
        if enforcement:
            self._on_enforcement()
        return ReviewOutcome(reviewed, after_status.value)

    async def _reevaluate_without(self, store, account, violation: dict, status_before) -> AccountStatus:
        trigger = violation["trigger_event_id"]
        position = await store.event_position(trigger)
        if position is None or account.last_event_at is None:
            return status_before
        await store.exclude_event(account, trigger, violation["violation_id"])
        at, row = position
        base = await store.last_snapshot_before(account, at, row)
        risk, after = (restore(account, None), None) if base is None else (restore(account, base[0]), base[1:])
        await store.drop_snapshots_from(account, at, row)
        until = (account.last_event_at, account.last_event_row)
        events = await store.events_for_replay(account.account_id, after, until, set(risk.positions))
        base_status = risk.status
        taken = replay(risk, events)
        snapshot = risk.to_snapshot()
        await store.save_state(
            account, snapshot, risk.status.value, sorted(risk.positions), *until, risk.next_boundary_at
        )
        await store.add_snapshot(account, until[0], until[1], snapshot)
        await record_decisions(store, account, taken, base_status, version=until[1])
        return risk.status


async def _reread(uow_factory: UnitOfWorkFactory, violation_id: uuid.UUID) -> dict:
    async with uow_factory() as uow:
        return await uow.store.get_violation(violation_id)


__all__ = ["OVERTURN", "UPHOLD", "ReviewOutcome", "ReviewViolation", "ReviewViolationHandler"]
