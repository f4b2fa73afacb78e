"""The challenges unit of work plus the sealed platform passwords (ADR 0045): provisioning stores the sealed password
in the transaction that activates the account; a reveal records itself and its audit entry in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.challenges.adapters.sql.platform_credentials_repository import SqlAlchemyPlatformCredentials
from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork


class SqlAlchemyCredentialsUnitOfWork(SqlAlchemyChallengesUnitOfWork):
    def _open(self, session: AsyncSession) -> None:
        super()._open(session)
        self.platform_credentials = SqlAlchemyPlatformCredentials(session)
