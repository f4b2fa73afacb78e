"""The payouts counted per account (PayoutCompleted from the payouts service), one row per payout id."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.challenges.adapters.sql.tables import account_payouts
from services.challenges.application.record_payout import PayoutCompleted


class SqlAlchemyAccountPayouts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_once(self, payout: PayoutCompleted, outcome: str) -> bool:
        result = await self._session.execute(
            insert(account_payouts)
            .values(
                payout_id=payout.payout_id,
                account_id=payout.account_id,
                amount=payout.amount.amount,
                currency=payout.amount.currency.value,
                paid_at=payout.paid_at,
                outcome=outcome,
            )
            .on_conflict_do_nothing(index_elements=["payout_id"])
            .returning(account_payouts.c.payout_id)
        )
        return result.first() is not None

    async def set_outcome(self, payout_id: str, outcome: str) -> None:
        await self._session.execute(
            update(account_payouts).where(account_payouts.c.payout_id == payout_id).values(outcome=outcome[:32])
        )
