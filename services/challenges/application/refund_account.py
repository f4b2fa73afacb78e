"""Command: an admin refunds the payment that bought an account, through Stripe; the order is refunded and the
account closed in the same transaction as the audit record.

The Stripe refund carries `order:<order id>:admin-refund`, so a retry (ours, or the admin's with the same request
id) never refunds twice. If our commit fails after Stripe refunded, Stripe's charge.refunded webhook applies the same
change later (RecordPaymentEvent), so the order cannot stay paid with the money returned.

A monthly account (ADR 0051) refunds its latest paid invoice's charge, cancels the subscription at once and closes;
earlier months stay paid (they bought the evaluation time the trader used).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from libs.domain.fingerprint import fingerprint
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.apply_subscription_event import refund_latest_month
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.idempotency_key import require_idempotency_key
from services.challenges.application.ports import ChallengesUnitOfWork, PaymentProvider
from services.challenges.domain.account import AccountStatus, TradingAccount
from services.challenges.domain.order import Order, OrderStatus

OPERATION = "RefundAccount"


@dataclass(frozen=True)
class RefundAccount:
    caller: Caller
    request_id: str
    account_id: str
    reason: str


@dataclass(frozen=True)
class Refunded:
    account: TradingAccount
    refund_id: str


def admin_refund_key(order_id: UUID) -> str:
    return f"order:{order_id}:admin-refund"


class RefundAccountHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork], payments: PaymentProvider, clock: Clock) -> None:
        self._uow = uow
        self._payments = payments
        self._clock = clock

    async def __call__(self, cmd: RefundAccount) -> Refunded:
        require_role(cmd.caller, "admin", action="refund accounts")
        require_idempotency_key(cmd.request_id)
        account_id = parse_account_id(cmd.account_id)
        reason = cmd.reason.strip()
        if not reason or len(reason) > 500:
            raise InvalidArgument("a reason of 1 to 500 characters is required", field="reason")
        params = fingerprint({"account_id": str(account_id), "reason": reason})
        async with self._uow() as uow:
            remembered = await uow.idempotency.recall(cmd.request_id, OPERATION, params)
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None:
                raise AccountNotFound(cmd.account_id)
            if remembered is not None:
                return Refunded(account, remembered["refund_id"])
            order = await uow.orders.get(account.order_id, for_update=True)
            if order is not None and order.status is OrderStatus.PAID and order.subscription_id is not None:
                refund_id = await self._refund_monthly(uow, cmd, account, order, reason)
                await uow.idempotency.remember(cmd.request_id, OPERATION, params, {"refund_id": refund_id})
                await uow.commit()
                return Refunded(account, refund_id)
            if order is None or order.status is not OrderStatus.PAID or order.payment_intent_id is None:
                state = order.status.value if order else "missing"
                raise FailedPrecondition(
                    f"the order of this account is {state}, not paid: nothing to refund",
                    reason="NOT_REFUNDABLE",
                    current_state=state,
                )
            refund_id = await self._payments.refund(
                order.payment_intent_id,
                reason="requested_by_customer",
                idempotency_key=admin_refund_key(order.order_id),
            )
            now = self._clock.now()
            before = {"order": order.status.value, "account": account.status.value}
            order.record_refund(order.payment_intent_id)
            await uow.orders.save(order)
            if account.status is not AccountStatus.CLOSED:
                account.close(f"refunded: {reason}", now)
                await uow.accounts.save(account)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action="account.refunded",
                    subject_type="account",
                    subject_id=str(account_id),
                    before=before,
                    after={
                        "order": order.status.value,
                        "account": account.status.value,
                        "refund_id": refund_id,
                        "amount": str(order.price.amount),
                        "reason": reason,
                    },
                )
            )
            await uow.idempotency.remember(cmd.request_id, OPERATION, params, {"refund_id": refund_id})
            await uow.commit()
        return Refunded(account, refund_id)

    async def _refund_monthly(
        self, uow: ChallengesUnitOfWork, cmd: RefundAccount, account: TradingAccount, order: Order, reason: str
    ) -> str:
        """A monthly account: the latest paid month's charge goes back (the trader paid for the evaluation month by
        month; the current month is what they lose by the firm's decision), the subscription is cancelled at once so
        nothing more is charged, the order refunded and the account closed. Stripe's charge.refunded and
        customer.subscription.deleted that follow find it all done."""
        invoice = await uow.subscriptions.paid_invoice(order_id=order.order_id)
        if invoice is None or invoice.payment_intent_id is None:
            raise FailedPrecondition(
                "this monthly account has no paid invoice with a payment to refund",
                reason="NOT_REFUNDABLE",
                current_state=order.status.value,
            )
        refund_id = await self._payments.refund(
            invoice.payment_intent_id,
            reason="requested_by_customer",
            idempotency_key=admin_refund_key(order.order_id),
        )
        now = self._clock.now()
        order_before = order.status.value
        before, cancelled = await refund_latest_month(uow, self._payments, order, account, invoice, reason, now)
        await uow.audit.append(
            audit_by(
                cmd.caller,
                at=now,
                action="account.refunded",
                subject_type="account",
                subject_id=str(account.account_id),
                before={**(before or {}), "order": order_before, "account": before["status"] if before else None},
                after={
                    "order": order.status.value,
                    "account": account.status.value,
                    "subscription_status": account.subscription.status.value if account.subscription else None,
                    "subscription_cancelled_now": cancelled,
                    "invoice_id": invoice.invoice_id,
                    "payment_intent_id": invoice.payment_intent_id,
                    "refund_id": refund_id,
                    "amount": str(invoice.amount) if invoice.amount is not None else None,
                    "reason": reason,
                },
            )
        )
        return refund_id
