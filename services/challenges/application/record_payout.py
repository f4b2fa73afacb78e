"""Event: PayoutCompleted from the payouts service (through our inbox): count the payout toward the funded account's
scaling plan and take the steps now due (ADR 0054).

The inbox deduplicates deliveries by event id; the payout itself is deduplicated here by its payout id (one row per
payout in `account_payouts`), so a payout published twice under two event ids still counts once. A payout that can
never count (an unknown account, one not in a funded run) is recorded with its outcome, logged and acknowledged:
retrying could not make it apply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid5

from libs.domain.audit import AuditEntry
from libs.domain.errors import FailedPrecondition
from libs.domain.money import Money
from services.challenges.application.ports import AccountRepository, AuditLog, PlatformResets

log = logging.getLogger(__name__)
PAYOUTS_ACTOR = "payouts"
# Platform resets are queued under a UUID; a scaling step's is derived from the account, the step's number and the
# payout that took it, so the step queues one reset however often its payout is delivered.
_SCALING_RESET_NAMESPACE = UUID("8f4e2c1a-6b3d-4f7e-9a05-3c2d1e0b9f64")


def scaling_reset_id(account_id: UUID, step: int, payout_id: str) -> UUID:
    return uuid5(_SCALING_RESET_NAMESPACE, f"{account_id}\nstep:{step}\npayout:{payout_id}")


@dataclass(frozen=True)
class PayoutCompleted:
    account_id: UUID
    payout_id: str
    amount: Money
    paid_at: datetime


class AccountPayouts(Protocol):
    async def record_once(self, payout: PayoutCompleted, outcome: str) -> bool:
        """Store the payout under its id; False when it was stored before (nothing to do)."""
        ...

    async def set_outcome(self, payout_id: str, outcome: str) -> None: ...


async def record_payout(
    accounts: AccountRepository,
    payouts: AccountPayouts,
    audit: AuditLog,
    platform_resets: PlatformResets,
    payout: PayoutCompleted,
) -> str:
    account = await accounts.get(payout.account_id, for_update=True)
    if account is None:
        log.warning("PayoutCompleted %s for unknown account %s ignored", payout.payout_id, payout.account_id)
        return "unknown_account"
    # Under the account's lock: two deliveries of one payout serialise here and the second finds the row.
    if not await payouts.record_once(payout, "received"):
        return "duplicate"
    before = {
        "payouts_counted": account.payouts_counted,
        "account_size": str(account.account_size.amount) if account.account_size else None,
    }
    try:
        steps = account.record_payout(payout.payout_id, payout.paid_at)
    except FailedPrecondition as refused:
        log.warning("PayoutCompleted %s for account %s not counted: %s", payout.payout_id, account.account_id, refused)
        await payouts.set_outcome(payout.payout_id, "not_funded")
        return "not_funded"
    await accounts.save(account)
    await audit.append(
        AuditEntry(
            occurred_at=payout.paid_at,
            actor_id=PAYOUTS_ACTOR,
            actor_role="system",
            ip=None,
            action="account.payout_counted",
            subject_type="account",
            subject_id=str(account.account_id),
            before=before,
            after={
                "payout_id": payout.payout_id,
                "amount": str(payout.amount.amount),
                "currency": payout.amount.currency.value,
                "payouts_counted": account.payouts_counted,
            },
        )
    )
    for step in steps:
        await audit.append(
            AuditEntry(
                occurred_at=step.at,
                actor_id=PAYOUTS_ACTOR,
                actor_role="system",
                ip=None,
                action="account.scaled",
                subject_type="account",
                subject_id=str(account.account_id),
                before={"account_size": str(step.from_size.amount)},
                after={
                    "account_size": str(step.to_size.amount),
                    "currency": step.to_size.currency.value,
                    "step": step.number,
                    "payouts": step.payouts,
                    "payout_id": step.payout_id,
                },
            )
        )
        # The platform account moves to the new size with the step (same transaction, worked by the reset worker):
        # otherwise the trader would keep trading the old balance while rules judges the new one.
        await platform_resets.enqueue(
            scaling_reset_id(account.account_id, step.number, step.payout_id), account.account_id, step.to_size.amount
        )
    outcome = f"scaled_to_{steps[-1].to_size.amount}" if steps else "counted"
    await payouts.set_outcome(payout.payout_id, outcome)
    return outcome
