"""The sealed platform passwords, one row per account (migration 0009, ADR 0045). The row outlives the secret: once
erased it keeps who revealed it when, which the 410 answer names."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.challenges.adapters.sql.tables import platform_credentials as table
from services.challenges.domain.platform_credentials import SealedPlatformCredentials


def _from_row(row) -> SealedPlatformCredentials:
    return SealedPlatformCredentials(
        account_id=row.account_id,
        user_id=row.user_id,
        login=row.platform_login,
        password_sealed=row.password_sealed,
        sealed_at=row.sealed_at,
        revealed_at=row.revealed_at,
        revealed_ip=row.revealed_ip,
        reveal_count=row.reveal_count,
        erased_at=row.erased_at,
        erased_reason=row.erased_reason,
    )


class SqlAlchemyPlatformCredentials:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, credentials: SealedPlatformCredentials) -> bool:
        # The provisioning commit holds the account's row lock and only runs while it is provisioning, so a row
        # already here means that commit happened: keep the first sealed value, never overwrite it.
        stored = await self._session.execute(
            insert(table)
            .values(
                account_id=credentials.account_id,
                user_id=credentials.user_id,
                platform_login=credentials.login,
                password_sealed=credentials.password_sealed,
                sealed_at=credentials.sealed_at,
                reveal_count=0,
            )
            .on_conflict_do_nothing(index_elements=["account_id"])
            .returning(table.c.account_id)
        )
        return stored.first() is not None

    async def get(self, account_id: UUID, *, for_update: bool = False) -> SealedPlatformCredentials | None:
        query = select(table).where(table.c.account_id == account_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return _from_row(row) if row is not None else None

    async def save(self, credentials: SealedPlatformCredentials) -> None:
        await self._session.execute(
            update(table)
            .where(table.c.account_id == credentials.account_id)
            .values(
                password_sealed=credentials.password_sealed,
                revealed_at=credentials.revealed_at,
                revealed_ip=credentials.revealed_ip,
                reveal_count=credentials.reveal_count,
                erased_at=credentials.erased_at,
                erased_reason=credentials.erased_reason,
            )
        )

    async def due_for_erasure(
        self, now: datetime, *, retention: timedelta, reveal_window: timedelta, limit: int
    ) -> list[SealedPlatformCredentials]:
        query = (
            select(table)
            .where(
                table.c.password_sealed.is_not(None),
                or_(
                    table.c.revealed_at <= now - reveal_window,
                    and_(table.c.revealed_at.is_(None), table.c.sealed_at <= now - retention),
                ),
            )
            .order_by(table.c.sealed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_from_row(row) for row in (await self._session.execute(query)).all()]
