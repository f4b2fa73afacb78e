"""The funded-trader agreements accepted, one row per (account, version) (migration 0007, ADR 0046)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.challenges.adapters.sql.tables import funded_agreements
from services.challenges.domain.funded_agreement import AgreementAcceptance


class SqlAlchemyFundedAgreements:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: UUID, version: str) -> AgreementAcceptance | None:
        row = (
            await self._session.execute(
                select(funded_agreements).where(
                    funded_agreements.c.account_id == account_id, funded_agreements.c.agreement_version == version
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return AgreementAcceptance(
            account_id=row.account_id,
            user_id=row.user_id,
            version=row.agreement_version,
            sha256=row.agreement_sha256,
            accepted_at=row.accepted_at,
            ip=row.ip,
        )

    async def add(self, acceptance: AgreementAcceptance) -> None:
        # The use case holds the account's row lock and answers an acceptance of the same text itself, so a
        # conflict here is the same version name with another text (edited without a new version): the trader has
        # now accepted this text, and the row says so.
        values = {
            "agreement_sha256": acceptance.sha256,
            "user_id": acceptance.user_id,
            "accepted_at": acceptance.accepted_at,
            "ip": acceptance.ip,
        }
        await self._session.execute(
            insert(funded_agreements)
            .values(account_id=acceptance.account_id, agreement_version=acceptance.version, **values)
            .on_conflict_do_update(index_elements=["account_id", "agreement_version"], set_=values)
        )
