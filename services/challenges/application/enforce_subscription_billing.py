"""Job: the billing consequences that no Stripe event triggers, run beside the gRPC server (ADR 0051).

1. A grace period that ran out unpaid suspends the account for non-payment. The deadline is the account row's
   `grace_until` (set in the transaction of the failed-payment event), so a crash or a restart loses nothing: the
   next pass finds every expired deadline, however long the process was down.
2. An evaluation that is over (passed, funded, closed) stops being billed: its subscription is cancelled at Stripe
   through the SDK (key `account:<id>:subscription:cancel`; Stripe ignores keys on DELETE), outside any
   transaction, then the account records the subscription as ended. A crash in between repeats the call, which
   Stripe refuses for a cancelled subscription and the adapter takes as done: one cancellation.

Each account is handled in its own short transaction with the row locked, and re-checked there: a payment that
landed since the list was read wins. Every change is audited.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from uuid import UUID

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from services.challenges.application.job_passes import run_passes
from services.challenges.application.ports import ChallengesUnitOfWork, PaymentProvider
from services.challenges.domain.account import TradingAccount
from services.challenges.domain.subscription import grace_expired, needs_cancelling, subscription_ended

log = logging.getLogger(__name__)
ACTOR = "subscription-billing"


def cancel_key(account_id: UUID) -> str:
    return f"account:{account_id}:subscription:cancel"


class EnforceSubscriptionBilling:
    def __init__(
        self,
        uow: Callable[[], ChallengesUnitOfWork],
        payments: PaymentProvider,
        clock: Clock,
        *,
        poll_seconds: float = 60.0,
        batch_size: int = 100,
        concurrency: int = 4,
    ) -> None:
        self._uow = uow
        self._payments = payments
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> dict[str, int]:
        """One pass; returns how many grace periods were due, how many accounts were suspended and how many
        subscriptions cancelled."""
        async with self._uow() as uow:
            expired = await uow.subscriptions.grace_expired(self._clock.now(), self._batch_size)
            to_cancel = await uow.subscriptions.billed_after_evaluation(self._batch_size)
        results = await asyncio.gather(*(self._expire(account_id) for account_id in expired), return_exceptions=True)
        for account_id, result in zip(expired, results, strict=True):
            if isinstance(result, Exception):  # e.g. a payment applied at the same instant: the next pass re-checks
                log.warning("grace expiry of account %s failed, will retry: %s", account_id, result)
        suspended = sum(1 for result in results if result is True)
        cancelled = 0
        for account_id, subscription_id in to_cancel:
            try:
                cancelled += await self._cancel(account_id, subscription_id)
            except Exception as exc:  # Stripe down: the account still qualifies, the next pass tries again
                log.warning("cancelling subscription %s of %s failed, will retry: %s", subscription_id, account_id, exc)
        return {"due": len(expired), "suspended": suspended, "cancelled": cancelled}

    async def _expire(self, account_id: UUID) -> bool:
        async with self._slots:  # a few transactions at once: the pool and the rest of the service keep room
            return await self._expire_one(account_id)

    async def _expire_one(self, account_id: UUID) -> bool:
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None:
                return False
            before = _state(account)
            suspended = grace_expired(account, now)
            if before == _state(account):
                return False  # paid in the meantime: nothing expired
            await uow.accounts.save(account)
            action = "account.suspended_for_non_payment" if suspended else "account.grace_expired_not_suspendable"
            await _audit(uow, now, action, account, before)
            await uow.commit()
        return suspended

    async def _cancel(self, account_id: UUID, subscription_id: str) -> bool:
        """Cancel at Stripe, then record it. Stripe's customer.subscription.deleted for this very cancellation races
        our commit (it is delivered while we open the transaction) and may record the end first; what this job did
        (the cancellation) is audited either way, so the record does not depend on which one won."""
        cancelled_now = await self._payments.cancel_subscription(
            subscription_id, idempotency_key=cancel_key(account_id)
        )
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None:
                return False
            before = _state(account)
            recorded_here = needs_cancelling(account)
            if recorded_here:
                subscription_ended(account, now)  # passed, funded or closed: never closes anything here
                await uow.accounts.save(account)
            if not (recorded_here or cancelled_now):
                return False  # ended by someone else (the trader, Stripe's dunning) before we got to it
            await _audit(uow, now, "account.subscription_cancelled_evaluation_over", account, before)
            await uow.commit()
        return True

    async def run(self) -> None:
        async def grace_periods_due() -> int:
            return (await self.run_once()).get("due", 0)

        await run_passes(
            grace_periods_due,
            self._stopping,
            batch_size=self._batch_size,
            poll_seconds=self._poll_seconds,
            log=log,
            failure="subscription billing pass failed",
        )

    def stop(self) -> None:
        self._stopping.set()


def _state(account: TradingAccount) -> dict:
    sub = account.subscription
    return {
        "status": account.status.value,
        "subscription_status": sub.status.value if sub else None,
        "grace_until": sub.grace_until.isoformat() if sub and sub.grace_until else None,
    }


async def _audit(uow: ChallengesUnitOfWork, now, action: str, account: TradingAccount, before: dict) -> None:
    await uow.audit.append(
        AuditEntry(
            occurred_at=now,
            actor_id=ACTOR,
            actor_role="system",
            ip=None,
            action=action,
            subject_type="account",
            subject_id=str(account.account_id),
            before=before,
            after=_state(account),
        )
    )
