"""Part of RecordPaymentEvent: what a monthly program's Stripe events do (ADR 0051).

Runs inside the event's transaction, with the order locked (`FOR UPDATE`), so events of one subscription apply one
after the other whatever order Stripe sends them in:
- Checkout's completion or the first paid invoice, whichever comes first, pays the order and opens the account once.
- Each invoice is remembered by id (subscription_invoices): a paid invoice is final, so its replay, or a failure of
  the same invoice arriving after it, changes nothing. Paid-through only moves forward (domain/subscription.py).
- A failed payment opens the grace period; the billing job suspends the account if it runs out unpaid.
- The end of the subscription closes an evaluation still running; a passed or funded account is unaffected.
- A second subscription for an order already paid is cancelled and its payment refunded (keys derived from it).
Every change is audited with the account's status before and after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

from libs.domain.audit import AuditEntry
from services.challenges.application.ports import ChallengesUnitOfWork, PaidInvoice, PaymentProvider
from services.challenges.domain.account import TradingAccount
from services.challenges.domain.order import Order, OrderStatus, PaymentOutcome
from services.challenges.domain.subscription import (
    InvoiceEffect,
    Subscription,
    cancel_at_period_end,
    invoice_paid,
    latest_month_refunded,
    payment_failed,
    subscription_ended,
)

STRIPE_ACTOR = "stripe"
# (uow, order, now) -> the account the paid order opens (RecordPaymentEventHandler._open_account).
OpenAccount = Callable[[ChallengesUnitOfWork, Order, datetime], Awaitable[TradingAccount]]


def duplicate_subscription_keys(order_id: UUID, subscription_id: str) -> tuple[str, str]:
    """(cancel key, refund key) for a second subscription bought for one order."""
    prefix = f"order:{order_id}:duplicate-subscription:{subscription_id}"
    return f"{prefix}:cancel", f"{prefix}:refund"


class SubscriptionEvents:
    def __init__(self, payments: PaymentProvider, grace: timedelta) -> None:
        self._payments = payments
        self._grace = grace

    async def apply(
        self, uow: ChallengesUnitOfWork, order: Order, notice, now: datetime, open_account: OpenAccount
    ) -> tuple[str, UUID | None]:
        from services.challenges.application.record_payment_event import NoticeKind

        subscription_id = notice.subscription_id
        if subscription_id is None:
            return "subscription_event_without_subscription", None
        if notice.kind is NoticeKind.INVOICE_PAYMENT_FAILED and order.subscription_id is None:
            # Checkout's first charge declined: the order is not paid (Checkout creates no subscription then).
            changed = order.record_failed_payment(notice.failure_reason or "invoice_payment_failed")
            await uow.orders.save(order)
            return ("order_failed" if changed else "late_failure_ignored"), None
        if notice.kind in (NoticeKind.SUBSCRIPTION_STARTED, NoticeKind.INVOICE_PAID):
            outcome = order.record_subscription(subscription_id, notice.amount, now)
            await uow.orders.save(order)
            if outcome is PaymentOutcome.DUPLICATE:
                return await self._stop_duplicate(uow, order, notice, now), None
            if outcome is PaymentOutcome.IGNORED:
                return "order_refunded_subscription_ignored", None
            created = None
            if outcome is PaymentOutcome.FIRST:
                account = await open_account(uow, order, now)
                if account.subscription is None:
                    account.subscription = Subscription(subscription_id)
                    account.version += 1
                    await uow.accounts.save(account)
                created = account.account_id
                await self._audit(
                    uow,
                    now,
                    "order.paid",
                    "order",
                    str(order.order_id),
                    None,
                    {"subscription_id": subscription_id, "account_id": str(created), "event_id": notice.event_id},
                )
            if notice.kind is NoticeKind.SUBSCRIPTION_STARTED:
                return ("account_created" if created else PaymentOutcome.ALREADY_APPLIED.value), created
            result = await self._invoice(uow, order, notice, now, paid=True)
            return ("account_created" if created else result), created
        if order.subscription_id != subscription_id:
            return "not_the_orders_subscription", None  # a duplicate's own failures and end are not the account's
        if notice.kind is NoticeKind.SUBSCRIPTION_UPDATED:
            return await self._updated(uow, order, notice, now), None
        if notice.kind is NoticeKind.INVOICE_PAYMENT_FAILED:
            return await self._invoice(uow, order, notice, now, paid=False), None
        if notice.kind is NoticeKind.SUBSCRIPTION_ENDED:
            account = await uow.accounts.get_by_order(order.order_id)
            if account is None:
                return "subscription_ended_without_account", None
            before = _state(account)
            closed = subscription_ended(account, now)
            await uow.accounts.save(account)
            if before == _state(account):
                return "subscription_already_ended", None
            outcome = "account_closed_subscription_ended" if closed else "subscription_ended_account_unaffected"
            await self._audit(
                uow, now, f"account.{outcome}", "account", str(account.account_id), before, _state(account)
            )
            return outcome, None
        return "ignored", None

    async def _updated(self, uow: ChallengesUnitOfWork, order: Order, notice, now: datetime) -> str:
        """Stripe says when the subscription will end (the trader's cancel at period end, through us or Stripe's
        portal), or that it no longer will. The account shows it; the end itself comes as customer.subscription.deleted.
        """
        account = await uow.accounts.get_by_order(order.order_id)
        if account is None or account.subscription is None:
            return "subscription_updated_without_account"
        before = _state(account)
        if not cancel_at_period_end(account, notice.cancel_at):
            return "subscription_update_no_change"
        await uow.accounts.save(account)
        action = "account.subscription_cancel_scheduled" if notice.cancel_at else "account.subscription_cancel_undone"
        await self._audit(
            uow,
            now,
            action,
            "account",
            str(account.account_id),
            before,
            {**_state(account), "event_id": notice.event_id},
        )
        return action.removeprefix("account.")

    async def refunded(self, uow: ChallengesUnitOfWork, order: Order, notice, now: datetime) -> str:
        """charge.refunded (in full) for one of a monthly order's invoice payments, from our admin refund or Stripe's
        dashboard. The latest paid month refunded: the subscription is cancelled at Stripe, the order refunded and
        the account closed (as an admin refund does). An earlier month refunded: only recorded (and audited); the
        trader keeps the evaluation the later months paid for."""
        invoice = await uow.subscriptions.paid_invoice(payment_intent_id=notice.payment_intent_id)
        if invoice is None or invoice.subscription_id != order.subscription_id:
            return "refund_of_duplicate_or_repeat"  # a duplicate subscription's refund (ours), or unknown
        if order.status is OrderStatus.REFUNDED:
            await uow.subscriptions.mark_invoice_refunded(invoice.invoice_id, now)
            return "refund_already_applied"  # our admin refund did it all, in its own transaction
        latest = await uow.subscriptions.paid_invoice(order_id=order.order_id)
        if latest is not None and latest.invoice_id != invoice.invoice_id:
            if not await uow.subscriptions.mark_invoice_refunded(invoice.invoice_id, now):
                return "refund_already_applied"
            await self._audit(
                uow,
                now,
                "order.earlier_invoice_refunded",
                "order",
                str(order.order_id),
                None,
                {
                    "invoice_id": invoice.invoice_id,
                    "payment_intent_id": notice.payment_intent_id,
                    "event_id": notice.event_id,
                },
            )
            return "earlier_invoice_refund_recorded"
        account = await uow.accounts.get_by_order(order.order_id)
        before, cancelled = await refund_latest_month(
            uow, self._payments, order, account, invoice, "payment refunded", now
        )
        if account is not None:
            after = {
                **_state(account),
                "order": order.status.value,
                "invoice_id": invoice.invoice_id,
                "subscription_cancelled_now": cancelled,
                "event_id": notice.event_id,
            }
            await self._audit(uow, now, "account.refunded", "account", str(account.account_id), before, after)
        return "order_refunded"

    async def _invoice(self, uow: ChallengesUnitOfWork, order: Order, notice, now: datetime, *, paid: bool) -> str:
        if notice.invoice_id and await uow.subscriptions.invoice_status(notice.invoice_id) == "paid":
            return "invoice_already_paid"  # a replay, or a failure of an invoice paid since (late)
        account = await uow.accounts.get_by_order(order.order_id)
        if account is None:
            return "invoice_without_account"
        if notice.invoice_id:
            await uow.subscriptions.record_invoice(
                invoice_id=notice.invoice_id,
                subscription_id=notice.subscription_id,
                order_id=order.order_id,
                status="paid" if paid else "failed",
                period_end=notice.period_end,
                amount=notice.amount.amount if notice.amount else None,
                currency=notice.amount.currency.value if notice.amount else None,
                payment_intent_id=notice.payment_intent_id,
            )
        before = _state(account)
        effect = (
            invoice_paid(account, notice.period_end, now)
            if paid
            else payment_failed(account, notice.period_end, self._grace, now)
        )
        await uow.accounts.save(account)
        if effect in (InvoiceEffect.EXTENDED, InvoiceEffect.REINSTATED, InvoiceEffect.GRACE_OPENED):
            after = {**_state(account), "invoice_id": notice.invoice_id, "event_id": notice.event_id}
            await self._audit(uow, now, f"account.{effect.value}", "account", str(account.account_id), before, after)
        return effect.value

    async def _stop_duplicate(self, uow: ChallengesUnitOfWork, order: Order, notice, now: datetime) -> str:
        """A second checkout of one order made a second subscription: stop it and give its money back. Repeated on
        every event of that subscription under the same keys, so Stripe cancels and refunds once."""
        cancel_key, refund_key = duplicate_subscription_keys(order.order_id, notice.subscription_id)
        await self._payments.cancel_subscription(notice.subscription_id, idempotency_key=cancel_key)
        refund_id = None
        if notice.payment_intent_id:
            refund_id = await self._payments.refund(
                notice.payment_intent_id, reason="duplicate", idempotency_key=f"{refund_key}:{notice.payment_intent_id}"
            )
        await self._audit(
            uow,
            now,
            "order.duplicate_subscription_cancelled",
            "order",
            str(order.order_id),
            None,
            {"subscription_id": notice.subscription_id, "refund_id": refund_id, "event_id": notice.event_id},
        )
        return "duplicate_subscription_cancelled"

    async def _audit(
        self, uow: ChallengesUnitOfWork, at: datetime, action: str, subject_type: str, subject_id: str, before, after
    ) -> None:
        await uow.audit.append(
            AuditEntry(
                occurred_at=at,
                actor_id=STRIPE_ACTOR,
                actor_role="system",
                ip=None,
                action=action,
                subject_type=subject_type,
                subject_id=subject_id,
                before=before,
                after=after,
            )
        )


def refund_cancel_key(order_id: UUID) -> str:
    return f"order:{order_id}:refund:subscription:cancel"


async def refund_latest_month(
    uow: ChallengesUnitOfWork,
    payments: PaymentProvider,
    order: Order,
    account: TradingAccount | None,
    invoice: PaidInvoice,
    reason: str,
    now: datetime,
) -> tuple[dict | None, bool]:
    """The money of the latest paid month went back to the trader (the caller refunded it, or Stripe says it was):
    no further month is charged (the subscription is cancelled at Stripe now, not at period end), the order is
    refunded, the invoice marked, and the account closed (announced to the rules service like any closing).
    Returns (the account's state before, whether this call cancelled the subscription)."""
    cancelled = await payments.cancel_subscription(
        invoice.subscription_id, idempotency_key=refund_cancel_key(order.order_id)
    )
    order.record_subscription_refund()
    await uow.orders.save(order)
    await uow.subscriptions.mark_invoice_refunded(invoice.invoice_id, now)
    if account is None:
        return None, cancelled
    before = _state(account)
    latest_month_refunded(account, f"refunded: {reason}", now)
    await uow.accounts.save(account)
    return before, cancelled


def _state(account: TradingAccount) -> dict:
    sub = account.subscription
    return {
        "status": account.status.value,
        "subscription_status": sub.status.value if sub else None,
        "paid_through": sub.paid_through.isoformat() if sub and sub.paid_through else None,
        "grace_until": sub.grace_until.isoformat() if sub and sub.grace_until else None,
        "cancel_at": sub.cancel_at.isoformat() if sub and sub.cancel_at else None,
    }
