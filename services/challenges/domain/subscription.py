"""Monthly evaluations: what a subscription's invoices mean for the account they pay for.

A monthly program is bought as a Stripe subscription. The account stays in its phase while invoices are paid
(each paid invoice extends `paid_through`); a failed payment opens a grace period during which trading continues;
when the grace period ends unpaid the account is suspended for non-payment, and a later paid invoice restores it to
where it was. The subscription ending (cancelled by the trader, or by Stripe after its retries) closes an evaluation
still running; an account that already passed keeps going (its evaluation fee did its job).

Every status change goes through the account's transition table (suspend, reinstate, close); these functions only
decide which one, and make a replayed or late invoice event change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from libs.domain.errors import FailedPrecondition
from services.challenges.domain.account import AccountStatus, TradingAccount


class Billing(StrEnum):
    ONE_TIME = "one_time"  # the price is paid once for the evaluation
    MONTHLY = "monthly"  # the price is per month, billed by a Stripe subscription


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"  # invoices paid
    PAST_DUE = "past_due"  # a payment failed: in grace, or suspended once grace ran out
    ENDED = "ended"  # cancelled (by the trader, by Stripe, or by us once the evaluation is over)


# Why a suspension happened, when the reason lets something other than an admin lift it.
NON_PAYMENT = "non_payment"
# Three days: Stripe's Smart Retries make their first retry about a day after a failure and the trader gets the
# failure email at once; three days covers a weekend and a card replacement without letting an unpaid evaluation
# trade on for most of a billing month. Configurable (DYNASTY_CHALLENGES_SUBSCRIPTION_GRACE_DAYS).
DEFAULT_GRACE = timedelta(days=3)
# Statuses in which the evaluation the subscription pays for is over: the fee must stop.
EVALUATION_OVER = frozenset({AccountStatus.PASSED, AccountStatus.FUNDED, AccountStatus.CLOSED})
# Statuses that non-payment may suspend (trading or waiting for funding).
SUSPENDABLE = frozenset({AccountStatus.PHASE_1, AccountStatus.PHASE_2, AccountStatus.PASSED, AccountStatus.FUNDED})


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    paid_through: datetime | None = None  # the end of the last paid period
    grace_until: datetime | None = None  # set while a failed payment is outstanding and grace has not run out
    cancel_at: datetime | None = None  # the trader cancelled at period end: Stripe ends it then, no more invoices


class InvoiceEffect(StrEnum):
    EXTENDED = "subscription_extended"
    REINSTATED = "account_reinstated_after_payment"
    ALREADY_COVERED = "invoice_already_covered"
    GRACE_OPENED = "grace_period_opened"
    GRACE_ALREADY_OPEN = "grace_period_already_open"
    SUBSCRIPTION_ENDED = "subscription_already_ended"
    NOT_A_SUBSCRIPTION = "account_not_on_subscription"


def _subscription(account: TradingAccount) -> Subscription | None:
    return account.subscription


def invoice_paid(account: TradingAccount, period_end: datetime | None, at: datetime) -> InvoiceEffect:
    """A paid invoice: paid-through moves forward (never back: a late invoice of an earlier period changes nothing),
    grace closes, and an account suspended for non-payment goes back to where it was."""
    sub = _subscription(account)
    if sub is None:
        return InvoiceEffect.NOT_A_SUBSCRIPTION
    if sub.status is SubscriptionStatus.ENDED:
        return InvoiceEffect.SUBSCRIPTION_ENDED
    covered = sub.paid_through is not None and period_end is not None and period_end <= sub.paid_through
    if covered and sub.status is SubscriptionStatus.ACTIVE:
        return InvoiceEffect.ALREADY_COVERED
    paid_through = sub.paid_through if covered or period_end is None else period_end
    account.subscription = replace(sub, status=SubscriptionStatus.ACTIVE, paid_through=paid_through, grace_until=None)
    account.version += 1
    if account.status is AccountStatus.SUSPENDED and account.suspended_for == NON_PAYMENT:
        account.reinstate("subscription invoice paid", at)
        return InvoiceEffect.REINSTATED
    return InvoiceEffect.EXTENDED


def payment_failed(
    account: TradingAccount, period_end: datetime | None, grace: timedelta, at: datetime
) -> InvoiceEffect:
    """A failed invoice payment opens the grace period, once: Stripe's retries failing again do not extend it, and a
    failure for a period already paid (a late event) changes nothing."""
    sub = _subscription(account)
    if sub is None:
        return InvoiceEffect.NOT_A_SUBSCRIPTION
    if sub.status is SubscriptionStatus.ENDED:
        return InvoiceEffect.SUBSCRIPTION_ENDED
    if sub.paid_through is not None and period_end is not None and period_end <= sub.paid_through:
        return InvoiceEffect.ALREADY_COVERED
    if sub.status is SubscriptionStatus.PAST_DUE:
        return InvoiceEffect.GRACE_ALREADY_OPEN
    account.subscription = replace(sub, status=SubscriptionStatus.PAST_DUE, grace_until=at + grace)
    account.version += 1
    return InvoiceEffect.GRACE_OPENED


def grace_expired(account: TradingAccount, at: datetime) -> bool:
    """Grace ran out unpaid: suspend for non-payment (announced to the rules service like any suspension). An
    account that cannot be suspended now (already suspended for a chargeback, failed, closed) only loses its
    deadline: a paid invoice or an admin decides from there. Returns whether the account was suspended."""
    sub = _subscription(account)
    if sub is None or sub.grace_until is None or at < sub.grace_until:
        return False
    account.subscription = replace(sub, grace_until=None)
    account.version += 1
    if account.status not in SUSPENDABLE:
        return False
    account.suspend("subscription payment failed and the grace period expired", at, cause=NON_PAYMENT)
    return True


def subscription_ended(account: TradingAccount, at: datetime) -> bool:
    """The subscription is over. An evaluation still running (or waiting to be provisioned, or failed, or suspended
    from one of those) is closed; an account that passed or is funded is unaffected. Returns whether it closed."""
    sub = _subscription(account)
    if sub is None or sub.status is SubscriptionStatus.ENDED:
        return False
    account.subscription = replace(sub, status=SubscriptionStatus.ENDED, grace_until=None)
    account.version += 1
    stage = account.suspended_from if account.status is AccountStatus.SUSPENDED else account.status
    if account.status is AccountStatus.CLOSED or stage in (AccountStatus.PASSED, AccountStatus.FUNDED):
        return False
    account.close("subscription ended", at)
    return True


def cancel_at_period_end(account: TradingAccount, cancel_at: datetime | None) -> bool:
    """The trader stops their subscription (or Stripe says when it will stop, or that it no longer will: `None`).
    They keep what they paid for: the account trades on until `cancel_at`, when Stripe ends the subscription and
    customer.subscription.deleted closes an evaluation still running. Returns whether anything changed."""
    sub = _subscription(account)
    if sub is None:
        raise FailedPrecondition(
            "this account is not billed monthly: there is no subscription to cancel", reason="NOT_A_SUBSCRIPTION"
        )
    if sub.status is SubscriptionStatus.ENDED or sub.cancel_at == cancel_at:
        return False
    account.subscription = replace(sub, cancel_at=cancel_at)
    account.version += 1
    return True


def latest_month_refunded(account: TradingAccount, reason: str, at: datetime) -> bool:
    """The charge of the latest paid month was refunded (by an admin, or from Stripe's dashboard): the firm gives
    the month back and stops the evaluation. The subscription ends (the caller cancels it at Stripe) and the account
    closes whatever its stage; a closed account stays closed. Returns whether the account closed here."""
    sub = _subscription(account)
    if sub is not None and sub.status is not SubscriptionStatus.ENDED:
        account.subscription = replace(sub, status=SubscriptionStatus.ENDED, grace_until=None)
        account.version += 1
    if account.status is AccountStatus.CLOSED:
        return False
    account.close(reason, at)
    return True


def needs_cancelling(account: TradingAccount) -> bool:
    """The evaluation is over (passed, funded or closed) but Stripe would keep charging for it."""
    sub = _subscription(account)
    return sub is not None and sub.status is not SubscriptionStatus.ENDED and account.status in EVALUATION_OVER
