"""One transaction over the rules schema with the monitoring store on it; rolls back unless committed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.adapters.sql.monitoring_store import SqlMonitoringStore


class SqlMonitoringUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.store: SqlMonitoringStore

    async def __aenter__(self) -> SqlMonitoringUnitOfWork:
        self._session = self._sessions()
        self.store = SqlMonitoringStore(self._session)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        assert self._session is not None
        await self._session.commit()
