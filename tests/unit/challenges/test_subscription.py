"""The monthly-billing policy: paid invoices extend, a failure opens grace once, expiry suspends for non-payment,
payment reinstates, the end of the subscription closes only a running evaluation. Late and repeated events change
nothing, and every status change goes through the account's transition table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from libs.domain.errors import FailedPrecondition, InvalidArgument
from libs.domain.ids import ProgramId
from services.challenges.domain.account import (
    AccountActivated,
    AccountStatus,
    AccountStatusChanged,
    FundingEligibility,
    PhaseSnapshot,
    PlatformAccount,
    TradingAccount,
)
from services.challenges.domain.program import build_terms
from services.challenges.domain.subscription import (
    DEFAULT_GRACE,
    NON_PAYMENT,
    Billing,
    InvoiceEffect,
    Subscription,
    SubscriptionStatus,
    cancel_at_period_end,
    grace_expired,
    invoice_paid,
    latest_month_refunded,
    needs_cancelling,
    payment_failed,
    subscription_ended,
)
from tests.unit.challenges.factories import rule_set, terms_kwargs

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MONTH_1 = T0 + timedelta(days=30)
MONTH_2 = T0 + timedelta(days=61)


def monthly_account(status: AccountStatus = AccountStatus.PHASE_1) -> TradingAccount:
    account = TradingAccount.for_paid_order(
        account_id=uuid4(),
        order_id=uuid4(),
        user_id="trader-1",
        user_email="t@example.test",
        program_id=ProgramId("eval-monthly-50k"),
        program_version_id=uuid4(),
        program_version=1,
        phases=[PhaseSnapshot(k, rule_set()) for k in ("phase_1", "phase_2", "funded")],
        at=T0,
    )
    account.subscription = Subscription("sub_1", paid_through=MONTH_1)
    account.provisioned(PlatformAccount("u", "a", "l"), T0)
    if status in (AccountStatus.PASSED, AccountStatus.FUNDED):
        account.phase_passed("phase_1", T0)
        account.phase_passed("phase_2", T0)
    if status is AccountStatus.FUNDED:
        account.fund(FundingEligibility(kyc_approved=True, agreement_accepted=True), T0)
    account.pull_events()
    return account


def test_a_paid_renewal_extends_paid_through_and_the_same_invoice_again_changes_nothing():
    account = monthly_account()
    assert invoice_paid(account, MONTH_2, T0) is InvoiceEffect.EXTENDED
    assert account.subscription.paid_through == MONTH_2
    version = account.version
    assert invoice_paid(account, MONTH_2, T0) is InvoiceEffect.ALREADY_COVERED
    assert invoice_paid(account, MONTH_1, T0) is InvoiceEffect.ALREADY_COVERED  # a late, earlier invoice
    assert account.subscription.paid_through == MONTH_2 and account.version == version


def test_a_failed_payment_opens_grace_once_and_trading_continues():
    account = monthly_account()
    at = MONTH_1 + timedelta(hours=1)
    assert payment_failed(account, MONTH_2, DEFAULT_GRACE, at) is InvoiceEffect.GRACE_OPENED
    assert account.status is AccountStatus.PHASE_1
    assert account.subscription.status is SubscriptionStatus.PAST_DUE
    assert account.subscription.grace_until == at + timedelta(days=3)
    # Stripe's retry failing again does not push the deadline back.
    assert payment_failed(account, MONTH_2, DEFAULT_GRACE, at + timedelta(days=1)) is InvoiceEffect.GRACE_ALREADY_OPEN
    assert account.subscription.grace_until == at + timedelta(days=3)
    # A failure for a period already paid (arriving late) is ignored.
    assert payment_failed(monthly_account(), MONTH_1, DEFAULT_GRACE, at) is InvoiceEffect.ALREADY_COVERED


def test_grace_expiry_suspends_for_non_payment_and_a_paid_invoice_reinstates():
    account = monthly_account(AccountStatus.PHASE_1)
    payment_failed(account, MONTH_2, DEFAULT_GRACE, MONTH_1)
    assert not grace_expired(account, MONTH_1 + timedelta(days=2))  # not yet
    assert account.status is AccountStatus.PHASE_1
    assert grace_expired(account, MONTH_1 + DEFAULT_GRACE)
    assert account.status is AccountStatus.SUSPENDED and account.suspended_for == NON_PAYMENT
    assert account.subscription.grace_until is None
    assert not grace_expired(account, MONTH_1 + DEFAULT_GRACE)  # the sweep running again: nothing more
    events = account._events
    assert isinstance(events[-1], AccountStatusChanged) and events[-1].status == "suspended"
    assert invoice_paid(account, MONTH_2, MONTH_1 + timedelta(days=5)) is InvoiceEffect.REINSTATED
    assert account.status is AccountStatus.PHASE_1 and account.suspended_for is None
    assert account.subscription.status is SubscriptionStatus.ACTIVE
    assert isinstance(account._events[-1], AccountStatusChanged) and account._events[-1].status == "phase_1"


def test_a_payment_does_not_lift_a_suspension_for_another_reason():
    account = monthly_account()
    account.suspend("chargeback opened", T0)
    payment_failed(account, MONTH_2, DEFAULT_GRACE, MONTH_1)
    assert not grace_expired(account, MONTH_1 + DEFAULT_GRACE)  # already suspended: only the deadline goes
    assert invoice_paid(account, MONTH_2, MONTH_1) is InvoiceEffect.EXTENDED
    assert account.status is AccountStatus.SUSPENDED


@pytest.mark.parametrize("status", [AccountStatus.PHASE_1, AccountStatus.PHASE_2])
def test_the_end_of_the_subscription_closes_a_running_evaluation(status):
    account = monthly_account()
    if status is AccountStatus.PHASE_2:
        account.phase_passed("phase_1", T0)
    assert subscription_ended(account, T0)
    assert account.status is AccountStatus.CLOSED
    assert account.subscription.status is SubscriptionStatus.ENDED
    assert not subscription_ended(account, T0)  # a replay: nothing
    assert invoice_paid(account, MONTH_2, T0) is InvoiceEffect.SUBSCRIPTION_ENDED


def test_the_end_of_the_subscription_closes_an_evaluation_suspended_for_non_payment():
    account = monthly_account()
    payment_failed(account, MONTH_2, DEFAULT_GRACE, MONTH_1)
    grace_expired(account, MONTH_1 + DEFAULT_GRACE)
    assert subscription_ended(account, MONTH_1 + timedelta(days=20))
    assert account.status is AccountStatus.CLOSED


@pytest.mark.parametrize("status", [AccountStatus.PASSED, AccountStatus.FUNDED])
def test_a_passed_or_funded_account_is_unaffected_by_the_end_and_is_due_for_cancelling(status):
    account = monthly_account(status)
    assert needs_cancelling(account)
    assert not subscription_ended(account, T0)
    assert account.status is status
    assert not needs_cancelling(account)
    assert not any(isinstance(e, (AccountStatusChanged, AccountActivated)) for e in account._events)


def test_a_running_evaluation_is_not_due_for_cancelling_and_a_one_time_account_is_untouched():
    assert not needs_cancelling(monthly_account())
    account = monthly_account()
    account.subscription = None
    assert invoice_paid(account, MONTH_2, T0) is InvoiceEffect.NOT_A_SUBSCRIPTION
    assert payment_failed(account, MONTH_2, DEFAULT_GRACE, T0) is InvoiceEffect.NOT_A_SUBSCRIPTION
    assert not grace_expired(account, MONTH_2) and not subscription_ended(account, T0)


def test_billing_is_a_validated_catalogue_term_defaulting_to_one_time():
    assert build_terms(**terms_kwargs()).billing is Billing.ONE_TIME
    assert build_terms(**terms_kwargs(), billing="monthly").billing is Billing.MONTHLY
    with pytest.raises(InvalidArgument) as info:
        build_terms(**terms_kwargs(), billing="weekly")
    assert info.value.field == "billing"


def test_a_cancellation_at_period_end_is_recorded_once_and_the_account_trades_on():
    account = monthly_account()
    assert cancel_at_period_end(account, MONTH_1) is True
    assert account.status is AccountStatus.PHASE_1 and account.subscription.status is SubscriptionStatus.ACTIVE
    assert account.subscription.cancel_at == MONTH_1 and account.pull_events() == []
    assert cancel_at_period_end(account, MONTH_1) is False  # asked again, or Stripe's update for it
    assert cancel_at_period_end(account, None) is True  # undone in Stripe's portal
    assert account.subscription.cancel_at is None
    # The end at the period's end closes the running evaluation as any end does.
    cancel_at_period_end(account, MONTH_1)
    assert subscription_ended(account, MONTH_1) and account.status is AccountStatus.CLOSED
    assert cancel_at_period_end(account, None) is False  # an ended subscription keeps its record


def test_only_a_monthly_account_has_a_subscription_to_cancel():
    account = monthly_account()
    account.subscription = None
    with pytest.raises(FailedPrecondition) as refused:
        cancel_at_period_end(account, MONTH_1)
    assert refused.value.reason == "NOT_A_SUBSCRIPTION"


@pytest.mark.parametrize("status", [AccountStatus.PHASE_1, AccountStatus.PASSED, AccountStatus.FUNDED])
def test_a_refund_of_the_latest_month_ends_the_subscription_and_closes_the_account_whatever_its_stage(status):
    account = monthly_account(status)
    assert latest_month_refunded(account, "refunded: asked on day one", T0) is True
    assert account.status is AccountStatus.CLOSED and account.subscription.status is SubscriptionStatus.ENDED
    (changed,) = [e for e in account.pull_events() if isinstance(e, AccountStatusChanged)]
    assert changed.status == "closed"
    assert latest_month_refunded(account, "again", T0) is False  # closed stays closed, nothing announced twice
    assert account.pull_events() == []


def test_a_monthly_order_is_refunded_once_and_a_one_time_order_is_not_a_subscription_refund():
    from libs.domain.money import Money
    from services.challenges.domain.order import Order, OrderStatus

    def order():
        return Order(
            order_id=uuid4(),
            user_id="trader-1",
            user_email="t@example.test",
            program_id=ProgramId("eval-monthly-50k"),
            program_version_id=uuid4(),
            program_version=1,
            price=Money.of("149.00"),
            promotion_code=None,
            status=OrderStatus.PENDING,
            created_at=T0,
        )

    monthly = order()
    monthly.record_subscription("sub_1", Money.of("149.00"), T0)
    assert monthly.record_subscription_refund() is True and monthly.status is OrderStatus.REFUNDED
    assert monthly.record_subscription_refund() is False
    one_time = order()
    one_time.record_payment("pi_1", Money.of("149.00"), T0)
    assert one_time.record_subscription_refund() is False and one_time.status is OrderStatus.PAID
