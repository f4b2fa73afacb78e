"""The challenges unit of work plus the funded-trader agreements, for the funding use cases (ADR 0046): the
acceptance, the account's move to funded, its platform reset, the audit record and the outbox event share one
transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.challenges.adapters.sql.funded_agreement_repository import SqlAlchemyFundedAgreements
from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork


class SqlAlchemyFundingUnitOfWork(SqlAlchemyChallengesUnitOfWork):
    def _open(self, session: AsyncSession) -> None:
        super()._open(session)
        self.agreements = SqlAlchemyFundedAgreements(session)
