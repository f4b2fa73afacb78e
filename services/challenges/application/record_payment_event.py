"""Command: a payment event from Stripe arrives (through the gateway's verified webhook).

The raw event is stored by its Stripe event id in the same transaction as everything it causes; a replay finds the
id and changes nothing. Events are applied so that any arrival order ends in the same state: both
checkout.session.completed and payment_intent.succeeded pay the order (whichever comes first), a late decline of an
earlier attempt does not unpay it, and a second, different payment for a paid order is refunded through Stripe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidTransition
from libs.domain.ids import new_uuid
from libs.domain.money import Money
from services.challenges.application.apply_subscription_event import SubscriptionEvents
from services.challenges.application.ports import ChallengesUnitOfWork, PaymentProvider
from services.challenges.domain.account import AccountStatus, PhaseSnapshot, TradingAccount
from services.challenges.domain.order import Order, OrderKind, PaymentOutcome
from services.challenges.domain.subscription import DEFAULT_GRACE

log = logging.getLogger(__name__)
STRIPE_ACTOR = "stripe"


class NoticeKind(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    REFUNDED = "refunded"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_CLOSED = "dispute_closed"
    # Monthly programs (application/apply_subscription_event.py):
    SUBSCRIPTION_STARTED = "subscription_started"  # Checkout completed in subscription mode
    INVOICE_PAID = "invoice_paid"
    INVOICE_PAYMENT_FAILED = "invoice_payment_failed"
    SUBSCRIPTION_ENDED = "subscription_ended"
    SUBSCRIPTION_UPDATED = "subscription_updated"  # when it will end (cancel at period end) changed
    IGNORED = "ignored"  # an event type (or object) we do not act on: stored, acknowledged


SUBSCRIPTION_NOTICES = frozenset(
    {
        NoticeKind.SUBSCRIPTION_STARTED,
        NoticeKind.INVOICE_PAID,
        NoticeKind.INVOICE_PAYMENT_FAILED,
        NoticeKind.SUBSCRIPTION_ENDED,
        NoticeKind.SUBSCRIPTION_UPDATED,
    }
)


@dataclass(frozen=True)
class PaymentNotice:
    """What a Stripe event means for us, translated by the Stripe adapter."""

    event_id: str
    event_type: str
    payload: dict
    kind: NoticeKind
    order_id: UUID | None = None
    payment_intent_id: str | None = None
    amount: Money | None = None
    failure_reason: str | None = None
    dispute_won: bool | None = None
    subscription_id: str | None = None
    invoice_id: str | None = None
    period_end: datetime | None = None  # the end of the period an invoice bills
    dispute_id: str | None = None
    dispute_reason: str | None = None  # Stripe's reason code, e.g. "fraudulent"
    dispute_status: str | None = None  # on closing: "won" or "lost"
    cancel_at: datetime | None = None  # customer.subscription.updated: when Stripe will end it (None: it will not)


@dataclass(frozen=True)
class RecordedEvent:
    duplicate: bool
    outcome: str
    account_id: UUID | None = None


def duplicate_refund_key(order_id: UUID, payment_intent_id: str) -> str:
    return f"order:{order_id}:duplicate-payment:{payment_intent_id}:refund"


class RecordPaymentEventHandler:
    def __init__(
        self,
        uow: Callable[[], ChallengesUnitOfWork],
        payments: PaymentProvider,
        clock: Clock,
        on_account_created: Callable[[UUID], None] = lambda _id: None,
        subscription_grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        self._uow = uow
        self._payments = payments
        self._clock = clock
        self._subscriptions = SubscriptionEvents(payments, subscription_grace)
        self._on_account_created = on_account_created  # wakes the provisioning worker at once

    async def __call__(self, notice: PaymentNotice) -> RecordedEvent:
        async with self._uow() as uow:
            if not await uow.stripe_events.store_once(notice.event_id, notice.event_type, notice.payload):
                log.info("Stripe event %s (%s) seen before; ignored", notice.event_id, notice.event_type)
                return RecordedEvent(duplicate=True, outcome="duplicate")
            order = await self._order_for(uow, notice)
            outcome, account_id = "ignored", None
            if order is not None:
                outcome, account_id = await self._apply(uow, order, notice)
            elif notice.kind is not NoticeKind.IGNORED:
                outcome = "no_matching_order"
            await uow.stripe_events.set_outcome(notice.event_id, outcome)
            await uow.commit()
        if account_id is not None:
            self._on_account_created(account_id)
        return RecordedEvent(duplicate=False, outcome=outcome, account_id=account_id)

    async def _order_for(self, uow: ChallengesUnitOfWork, notice: PaymentNotice) -> Order | None:
        if notice.kind is NoticeKind.IGNORED:
            return None
        order_id = notice.order_id
        if order_id is None and notice.subscription_id:
            # A subscription's event without our metadata (created before it was set): the order it paid.
            order_id = await uow.subscriptions.order_of_subscription(notice.subscription_id)
        if order_id is None and notice.payment_intent_id and notice.kind not in SUBSCRIPTION_NOTICES:
            # Charges and disputes carry the payment intent, not our metadata.
            order_id = await uow.orders.find_by_payment(notice.payment_intent_id)
            if order_id is None and notice.kind in (
                NoticeKind.DISPUTE_OPENED,
                NoticeKind.DISPUTE_CLOSED,
                NoticeKind.REFUNDED,
            ):
                # A chargeback or refund of a monthly charge names an invoice's payment (ADR 0051). Only those: an
                # invoice's payment_intent.* events are the invoice events' business, never a second payment.
                order_id = await uow.subscriptions.order_of_invoice_payment(notice.payment_intent_id)
        if order_id is None:
            return None
        # FOR UPDATE: concurrent events about one order (Stripe sends them in parallel) apply one after the other.
        return await uow.orders.get(order_id, for_update=True)

    async def _apply(self, uow: ChallengesUnitOfWork, order: Order, notice: PaymentNotice) -> tuple[str, UUID | None]:
        now = self._clock.now()
        if notice.kind in SUBSCRIPTION_NOTICES:
            return await self._subscriptions.apply(uow, order, notice, now, self._open_account)
        if notice.kind is NoticeKind.PAYMENT_SUCCEEDED and notice.payment_intent_id and notice.amount is not None:
            result = order.record_payment(notice.payment_intent_id, notice.amount, now)
            await uow.orders.save(order)
            if result is PaymentOutcome.FIRST and order.kind is OrderKind.RESET:
                return await self._reset_account(uow, order, notice, now)
            if result is PaymentOutcome.FIRST:
                account = await self._open_account(uow, order, now)
                await self._audit(
                    uow,
                    order,
                    "order.paid",
                    {
                        "payment_intent_id": notice.payment_intent_id,
                        "amount": str(notice.amount.amount),
                        "account_id": str(account.account_id),
                    },
                )
                return "account_created", account.account_id
            if result is PaymentOutcome.DUPLICATE:
                refund_id = await self._payments.refund(
                    notice.payment_intent_id,
                    reason="duplicate",
                    idempotency_key=duplicate_refund_key(order.order_id, notice.payment_intent_id),
                )
                await self._audit(
                    uow,
                    order,
                    "order.duplicate_payment_refunded",
                    {
                        "payment_intent_id": notice.payment_intent_id,
                        "refund_id": refund_id,
                        "amount": str(notice.amount.amount),
                    },
                )
                return "duplicate_payment_refunded", None
            return result.value, None
        if notice.kind is NoticeKind.PAYMENT_FAILED:
            changed = order.record_failed_payment(notice.failure_reason or "payment_failed")
            await uow.orders.save(order)
            return ("order_failed" if changed else "late_failure_ignored"), None
        if notice.kind is NoticeKind.REFUNDED and notice.payment_intent_id and order.subscription_id is not None:
            return await self._subscriptions.refunded(uow, order, notice, now), None
        if notice.kind is NoticeKind.REFUNDED and notice.payment_intent_id:
            if not order.record_refund(notice.payment_intent_id):
                return "refund_of_duplicate_or_repeat", None
            await uow.orders.save(order)
            await self._audit(uow, order, "order.refunded", {"payment_intent_id": notice.payment_intent_id})
            account = await uow.accounts.get_by_order(order.order_id)
            if account is not None and account.status is not AccountStatus.CLOSED:
                account.close("payment refunded", now)
                await uow.accounts.save(account)
            return "order_refunded", None
        if notice.kind in (NoticeKind.DISPUTE_OPENED, NoticeKind.DISPUTE_CLOSED):
            return await self._apply_dispute(uow, order, notice, now), None
        return "ignored", None

    async def _reset_account(
        self, uow: ChallengesUnitOfWork, order: Order, notice: PaymentNotice, now
    ) -> tuple[str, UUID | None]:
        account = await uow.accounts.get(order.reset_account_id, for_update=True) if order.reset_account_id else None
        try:
            if account is None:
                raise FailedPrecondition("the account to reset is gone", reason="NOT_FOUND")
            before = account.status.value
            account.reset(now)
        except (InvalidTransition, FailedPrecondition) as refused:
            # The account changed between checkout and payment (closed, failed for fraud): the trader gets the
            # money back rather than a reset they cannot use.
            refund_id = await self._payments.refund(
                notice.payment_intent_id or "",
                reason="requested_by_customer",
                idempotency_key=f"order:{order.order_id}:reset-refused:refund",
            )
            await self._audit(
                uow, order, "order.reset_refused_refunded", {"reason": refused.message, "refund_id": refund_id}
            )
            return "reset_refused_refunded", None
        await uow.accounts.save(account)
        await uow.platform_resets.enqueue(order.order_id, account.account_id)
        await uow.audit.append(
            AuditEntry(
                occurred_at=now,
                actor_id=order.user_id,
                actor_role="trader",
                ip=None,
                action="account.reset",
                subject_type="account",
                subject_id=str(account.account_id),
                before={"status": before},
                after={
                    "status": account.status.value,
                    "attempt": account.current_attempt.number if account.current_attempt else 0,
                    "order_id": str(order.order_id),
                    "payment_intent_id": notice.payment_intent_id,
                },
            )
        )
        return "account_reset", account.account_id

    async def _apply_dispute(self, uow, order: Order, notice: PaymentNotice, now) -> str:
        # A chargeback of a reset's payment concerns the account it reset.
        if order.kind is OrderKind.RESET and order.reset_account_id is not None:
            account = await uow.accounts.get(order.reset_account_id, for_update=True)
        else:
            account = await uow.accounts.get_by_order(order.order_id)
        # The user is flagged for review by identity (ChargebackOpened through the outbox) whatever the account's
        # state: a chargeback on a closed or already suspended account is still a signal support must see.
        account_id = account.account_id if account is not None else None
        dispute_id = notice.dispute_id or notice.event_id
        if notice.kind is NoticeKind.DISPUTE_OPENED:
            order.record_chargeback_opened(
                dispute_id=dispute_id,
                account_id=account_id,
                amount=notice.amount,
                reason=notice.dispute_reason or "unknown",
                at=now,
            )
        else:
            status = notice.dispute_status or ("won" if notice.dispute_won else "lost")
            order.record_chargeback_closed(dispute_id=dispute_id, account_id=account_id, status=status, at=now)
        if account is None:
            return "dispute_without_account"
        before = account.status.value
        if notice.kind is NoticeKind.DISPUTE_OPENED:
            if account.status in (AccountStatus.SUSPENDED, AccountStatus.CLOSED):
                return "dispute_account_already_stopped"
            account.suspend("chargeback opened", now)
            outcome = "account_suspended"
        elif notice.dispute_won and account.status is AccountStatus.SUSPENDED:
            account.reinstate("chargeback won", now)
            outcome = "account_reinstated"
        elif not notice.dispute_won and account.status is not AccountStatus.CLOSED:
            account.close("chargeback lost", now)
            outcome = "account_closed"
        else:
            return "dispute_closed_no_change"
        await uow.accounts.save(account)
        await uow.audit.append(
            AuditEntry(
                occurred_at=now,
                actor_id=STRIPE_ACTOR,
                actor_role="system",
                ip=None,
                action=f"account.{outcome}",
                subject_type="account",
                subject_id=str(account.account_id),
                before={"status": before},
                after={"status": account.status.value, "event_id": notice.event_id},
            )
        )
        return outcome

    async def _open_account(self, uow: ChallengesUnitOfWork, order: Order, now) -> TradingAccount:
        existing = await uow.accounts.get_by_order(order.order_id)
        if existing is not None:  # the database's unique order_id would refuse a second one anyway
            return existing
        version = await uow.programs.get_version(order.program_id, order.program_version)
        if version is None:
            raise RuntimeError(f"program {order.program_id} v{order.program_version} of order {order.order_id} is gone")
        account = TradingAccount.for_paid_order(
            account_id=new_uuid(),
            order_id=order.order_id,
            user_id=order.user_id,
            user_email=order.user_email,
            program_id=order.program_id,
            program_version_id=version.version_id,
            program_version=version.version,
            phases=[PhaseSnapshot(p.kind.value, p.rule_set) for p in version.terms.phases],
            at=now,
            terms=version.terms.bought(),  # reset fee, free retries, scaling plan (ADR 0054)
        )
        await uow.accounts.add(account)
        await uow.provisioning.enqueue(account.account_id)
        return account

    async def _audit(self, uow: ChallengesUnitOfWork, order: Order, action: str, after: dict) -> None:
        await uow.audit.append(
            AuditEntry(
                occurred_at=self._clock.now(),
                actor_id=STRIPE_ACTOR,
                actor_role="system",
                ip=None,
                action=action,
                subject_type="order",
                subject_id=str(order.order_id),
                before=None,
                after=after,
            )
        )
