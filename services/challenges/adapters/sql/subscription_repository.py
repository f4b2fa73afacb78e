"""SQL for monthly subscriptions: the invoices already acted on, and the billing job's work lists."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.challenges.adapters.sql.tables import orders, subscription_invoices, trading_accounts
from services.challenges.application.ports import PaidInvoice
from services.challenges.domain.subscription import EVALUATION_OVER, SubscriptionStatus


class SqlAlchemySubscriptions:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def invoice_status(self, invoice_id: str) -> str | None:
        """'paid' or 'failed' if this invoice was acted on before; None if never seen."""
        return (
            await self._session.execute(
                select(subscription_invoices.c.status).where(subscription_invoices.c.invoice_id == invoice_id)
            )
        ).scalar()

    async def record_invoice(
        self,
        *,
        invoice_id: str,
        subscription_id: str,
        order_id: UUID,
        status: str,
        period_end: datetime | None,
        amount: Decimal | None,
        currency: str | None,
        payment_intent_id: str | None = None,
    ) -> None:
        """Remember the invoice's latest settled state; paid is final (a late failure never overwrites it)."""
        statement = insert(subscription_invoices).values(
            invoice_id=invoice_id,
            subscription_id=subscription_id,
            order_id=order_id,
            status=status,
            period_end=period_end,
            amount_paid=amount,
            currency=currency,
            payment_intent_id=payment_intent_id,
            updated_at=func.now(),
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["invoice_id"],
                set_={
                    "status": statement.excluded.status,
                    "payment_intent_id": func.coalesce(
                        statement.excluded.payment_intent_id, subscription_invoices.c.payment_intent_id
                    ),
                    "updated_at": func.now(),
                },
                where=subscription_invoices.c.status != "paid",
            )
        )

    async def order_of_subscription(self, subscription_id: str) -> UUID | None:
        """The order a subscription paid (or was a duplicate for), when an event lacks our metadata."""
        return (
            await self._session.execute(
                select(orders.c.order_id).where(
                    or_(
                        orders.c.subscription_id == subscription_id,
                        orders.c.duplicate_payments.contains([subscription_id]),
                    )
                )
            )
        ).scalar()

    async def order_of_invoice_payment(self, payment_intent_id: str) -> UUID | None:
        """The order whose subscription an invoice payment settled (charges and disputes name only the payment)."""
        return (
            await self._session.execute(
                select(subscription_invoices.c.order_id).where(
                    subscription_invoices.c.payment_intent_id == payment_intent_id
                )
            )
        ).scalar()

    async def grace_expired(self, now: datetime, limit: int) -> list[UUID]:
        """Accounts whose grace period ran out (the partial index trading_accounts_grace_due serves this)."""
        t = trading_accounts
        query = (
            select(t.c.account_id)
            .where(t.c.grace_until.is_not(None), t.c.grace_until <= now)
            .order_by(t.c.grace_until)
            .limit(limit)
        )
        return [r[0] for r in await self._session.execute(query)]

    async def billed_after_evaluation(self, limit: int) -> list[tuple[UUID, str]]:
        """(account, subscription) pairs whose evaluation is over while the subscription still bills."""
        t = trading_accounts
        query = (
            select(t.c.account_id, t.c.subscription_id)
            .where(
                t.c.subscription_id.is_not(None),
                t.c.subscription_status != SubscriptionStatus.ENDED.value,
                t.c.status.in_([s.value for s in EVALUATION_OVER]),
            )
            .limit(limit)
        )
        return [(r.account_id, r.subscription_id) for r in await self._session.execute(query)]

    async def paid_invoice(
        self, *, order_id: UUID | None = None, payment_intent_id: str | None = None
    ) -> PaidInvoice | None:
        """By payment: the invoice that payment settled. By order: the latest paid period (what an admin refund of a
        monthly account gives back)."""
        i = subscription_invoices
        query = select(i).where(i.c.status == "paid")
        if payment_intent_id is not None:
            query = query.where(i.c.payment_intent_id == payment_intent_id)
        if order_id is not None:
            query = query.where(i.c.order_id == order_id)
        query = query.order_by(i.c.period_end.desc().nulls_last(), i.c.updated_at.desc()).limit(1)
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return PaidInvoice(
            invoice_id=row.invoice_id,
            subscription_id=row.subscription_id,
            order_id=row.order_id,
            payment_intent_id=row.payment_intent_id,
            period_end=row.period_end,
            amount=row.amount_paid,
            currency=row.currency,
            refunded_at=row.refunded_at,
        )

    async def mark_invoice_refunded(self, invoice_id: str, at: datetime) -> bool:
        i = subscription_invoices
        result = await self._session.execute(
            update(i)
            .where(i.c.invoice_id == invoice_id, i.c.refunded_at.is_(None))
            .values(refunded_at=at, updated_at=func.now())
        )
        return result.rowcount == 1
