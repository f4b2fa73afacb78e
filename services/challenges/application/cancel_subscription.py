"""Command: a trader stops the subscription of their monthly account (POST /v1/accounts/{id}/subscription/cancel).

Cancelled at period end (Stripe's `cancel_at_period_end`), not at once: the trader paid for the current month and
keeps trading it; no further invoice is raised, and when the period ends Stripe ends the subscription and its
customer.subscription.deleted closes an evaluation still running (ADR 0051), as any end of a subscription does.
Asking again (a replay, or a second click) answers the account as it stands and calls Stripe no more; a cancellation
the trader made in Stripe's portal shows up through customer.subscription.updated the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition
from libs.domain.fingerprint import fingerprint
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.idempotency_key import require_idempotency_key
from services.challenges.application.ports import ChallengesUnitOfWork, PaymentProvider
from services.challenges.domain.account import AccountStatus, TradingAccount
from services.challenges.domain.subscription import SubscriptionStatus, cancel_at_period_end

OPERATION = "CancelSubscription"


@dataclass(frozen=True)
class CancelSubscription:
    caller: Caller
    request_id: str
    account_id: str


def cancel_at_period_end_key(account_id, request_id: str) -> str:
    """Per request, not per account: a trader who undid the cancellation in Stripe's portal and cancels again must
    reach Stripe, not get the first call's stored answer back (Stripe replays a key's first response)."""
    digest = hashlib.sha256(request_id.encode()).hexdigest()[:32]
    return f"account:{account_id}:subscription:cancel-at-period-end:{digest}"


class CancelSubscriptionHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork], payments: PaymentProvider, clock: Clock) -> None:
        self._uow = uow
        self._payments = payments
        self._clock = clock

    async def __call__(self, cmd: CancelSubscription) -> TradingAccount:
        require_role(cmd.caller, "trader", action="cancel a subscription")
        require_idempotency_key(cmd.request_id)
        account_id = parse_account_id(cmd.account_id)
        operation = f"{OPERATION}:{cmd.caller.actor_id}"
        params = fingerprint({"account_id": str(account_id)})
        async with self._uow() as uow:
            # The account's lock first: a concurrent replay waits for the first request, then finds its answer.
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None or account.user_id != cmd.caller.actor_id:
                raise AccountNotFound(cmd.account_id)  # another trader's account is not theirs to know about
            if await uow.idempotency.recall(cmd.request_id, operation, params) is not None:
                return account
            sub = account.subscription
            if sub is None:
                raise FailedPrecondition(
                    "this account is paid once, not monthly: there is no subscription to cancel",
                    reason="NOT_A_SUBSCRIPTION",
                )
            if sub.status is SubscriptionStatus.ENDED or account.status is AccountStatus.CLOSED:
                raise FailedPrecondition(
                    "the subscription of this account has already ended",
                    reason="SUBSCRIPTION_ENDED",
                    current_state=sub.status.value,
                )
            if sub.cancel_at is None:  # already cancelled at period end: nothing more to ask Stripe
                cancel_at = await self._payments.cancel_at_period_end(
                    sub.subscription_id, idempotency_key=cancel_at_period_end_key(account.account_id, cmd.request_id)
                )
                before = {"subscription_status": sub.status.value, "cancel_at": None}
                now = self._clock.now()
                cancel_at_period_end(account, cancel_at or sub.paid_through or now)
                await uow.accounts.save(account)
                await uow.audit.append(
                    audit_by(
                        cmd.caller,
                        at=now,
                        action="account.subscription_cancel_requested",
                        subject_type="account",
                        subject_id=str(account.account_id),
                        before=before,
                        after={
                            "subscription_status": account.subscription.status.value,
                            "cancel_at": account.subscription.cancel_at.isoformat(),
                            "subscription_id": sub.subscription_id,
                        },
                    )
                )
            await uow.idempotency.remember(cmd.request_id, operation, params, {"account_id": str(account.account_id)})
            await uow.commit()
        return account
