"""An order: a trader buying one program version, and the Stripe payments made against it.

An order is paid once. Stripe can still take a second payment for it (a second checkout session for the same order,
a double click through two tabs); that payment is recognised here as a duplicate so the caller refunds it, and the
order keeps the single account its first payment bought.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from libs.domain.aggregate import Aggregate
from libs.domain.errors import InvalidTransition
from libs.domain.events import DomainEvent
from libs.domain.ids import ProgramId
from libs.domain.money import Money


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"


# A declined card leaves Stripe's checkout session open and the trader may pay again, so failed is not final.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.FAILED}),
    OrderStatus.FAILED: frozenset({OrderStatus.PAID, OrderStatus.FAILED}),
    OrderStatus.PAID: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}


class OrderKind(StrEnum):
    PURCHASE = "purchase"  # buys a new account
    RESET = "reset"  # buys a new attempt on an existing account


class PaymentOutcome(StrEnum):
    FIRST = "first"  # this payment pays the order: create its account
    ALREADY_APPLIED = "already_applied"  # the same payment seen again (another event type, a replay): nothing to do
    DUPLICATE = "duplicate"  # a second, different payment for a paid order: refund it
    IGNORED = "ignored"  # a payment event for an order that no longer takes payments (refunded)


@dataclass(frozen=True, kw_only=True)
class OrderPaid(DomainEvent):
    order_id: UUID
    user_id: str
    payment_intent_id: str
    amount: Money


@dataclass(frozen=True, kw_only=True)
class ChargebackOpened(DomainEvent):
    """The cardholder disputed the payment of this order: identity flags the user for review (not a suspension)."""

    order_id: UUID
    user_id: str
    account_id: UUID | None
    dispute_id: str
    payment_intent_id: str | None
    amount: Money | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class ChargebackClosed(DomainEvent):
    """The bank decided the dispute ("won": in our favour, "lost": the money stays with the cardholder)."""

    order_id: UUID
    user_id: str
    account_id: UUID | None
    dispute_id: str
    status: str


@dataclass(eq=False)
class Order(Aggregate):
    order_id: UUID
    user_id: str
    user_email: str
    program_id: ProgramId
    program_version_id: UUID
    program_version: int
    price: Money
    promotion_code: str | None
    status: OrderStatus
    created_at: datetime
    checkout_session_id: str | None = None
    checkout_url: str | None = None
    payment_intent_id: str | None = None  # the payment that paid the order
    failure_reason: str | None = None
    duplicate_payments: tuple[str, ...] = ()
    kind: OrderKind = OrderKind.PURCHASE
    reset_account_id: UUID | None = None  # the account a reset order resets
    billing: str = "one_time"  # one_time | monthly (domain/subscription.py's Billing)
    subscription_id: str | None = None  # monthly: the Stripe subscription that paid the order
    version: int = 0
    _events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def aggregate_id(self) -> str:
        return str(self.order_id)

    def _move(self, target: OrderStatus) -> None:
        if target not in ORDER_TRANSITIONS[self.status]:
            raise InvalidTransition("order", self.status.value, target.value)
        self.status = target
        self.version += 1

    def attach_checkout(self, session_id: str, url: str) -> None:
        self.checkout_session_id = session_id
        self.checkout_url = url
        self.version += 1

    def record_payment(self, payment_intent_id: str, amount: Money, at: datetime) -> PaymentOutcome:
        """Apply a succeeded payment; any event order and any number of repeats give the same end state."""
        if self.payment_intent_id == payment_intent_id or payment_intent_id in self.duplicate_payments:
            return PaymentOutcome.ALREADY_APPLIED
        outcome = self._settle(payment_intent_id, amount, at)
        if outcome is PaymentOutcome.FIRST:
            self.payment_intent_id = payment_intent_id
        return outcome

    def record_chargeback_opened(
        self,
        *,
        dispute_id: str,
        account_id: UUID | None,
        amount: Money | None,
        reason: str,
        at: datetime,
    ) -> None:
        """A dispute of this order's payment opened. The order itself does not change (the money is Stripe's to
        move); the event tells identity who to flag, whatever state the account is in."""
        self._record_event(
            ChargebackOpened(
                occurred_at=at,
                order_id=self.order_id,
                user_id=self.user_id,
                account_id=account_id,
                dispute_id=dispute_id,
                payment_intent_id=self.payment_intent_id,
                amount=amount,
                reason=reason,
            )
        )

    def record_chargeback_closed(self, *, dispute_id: str, account_id: UUID | None, status: str, at: datetime) -> None:
        self._record_event(
            ChargebackClosed(
                occurred_at=at,
                order_id=self.order_id,
                user_id=self.user_id,
                account_id=account_id,
                dispute_id=dispute_id,
                status=status,
            )
        )

    def record_subscription(self, subscription_id: str, amount: Money | None, at: datetime) -> PaymentOutcome:
        """A monthly order is paid by its subscription: its first paid invoice or Checkout's completion, whichever
        arrives first (the other is then ALREADY_APPLIED). Another subscription for an order already paid (a second
        checkout of the same order) is a DUPLICATE every time it is seen, so the caller's cancel and refund, keyed by
        the subscription and payment, are repeated safely until they have happened."""
        if self.subscription_id == subscription_id:
            return PaymentOutcome.ALREADY_APPLIED
        if subscription_id in self.duplicate_payments:
            return PaymentOutcome.DUPLICATE
        # For a monthly order the subscription is what paid: OrderPaid names it where a payment would stand.
        outcome = self._settle(subscription_id, amount if amount is not None else self.price, at)
        if outcome is PaymentOutcome.FIRST:
            self.subscription_id = subscription_id
        return outcome

    def _settle(self, paid_by: str, amount: Money, at: datetime) -> PaymentOutcome:
        """What a payment not seen before (or a monthly order's new subscription) does: nothing once refunded, a
        recorded duplicate once paid, otherwise the order becomes paid and says so. One place for both kinds, so a
        refunded order, a second payer and OrderPaid are never handled one way for one and another way for the
        other; the caller records which of its fields paid."""
        if self.status is OrderStatus.REFUNDED:
            return PaymentOutcome.IGNORED
        if self.status is OrderStatus.PAID:
            self.duplicate_payments = (*self.duplicate_payments, paid_by)
            self.version += 1
            return PaymentOutcome.DUPLICATE
        self._move(OrderStatus.PAID)
        self.failure_reason = None
        self._record_event(
            OrderPaid(
                occurred_at=at,
                order_id=self.order_id,
                user_id=self.user_id,
                payment_intent_id=paid_by,
                amount=amount,
            )
        )
        return PaymentOutcome.FIRST

    def record_failed_payment(self, reason: str) -> bool:
        """A declined attempt. Once paid, a late (out-of-order) failure of an earlier attempt changes nothing."""
        if self.status not in (OrderStatus.PENDING, OrderStatus.FAILED):
            return False
        self._move(OrderStatus.FAILED)
        self.failure_reason = reason
        return True

    def record_subscription_refund(self) -> bool:
        """A monthly order's latest paid month was refunded: the firm gave the evaluation's money back, so the order
        is refunded (its account closes). Refunds of an earlier month, or of a duplicate subscription, are not this.
        Returns False when already refunded."""
        if self.subscription_id is None or self.status is OrderStatus.REFUNDED:
            return False
        self._move(OrderStatus.REFUNDED)
        return True

    def record_refund(self, payment_intent_id: str) -> bool:
        """The paying payment was refunded (by an admin, or through Stripe's dashboard). Refunds of duplicate
        payments are ours and leave the order paid."""
        if payment_intent_id != self.payment_intent_id or self.status is OrderStatus.REFUNDED:
            return False
        self._move(OrderStatus.REFUNDED)
        return True
