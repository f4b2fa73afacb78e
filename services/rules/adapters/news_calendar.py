"""Keeps this process's news calendar (application.risk_states) equal to the restricted events in the database:
loaded at start, after every import, and every `period_seconds` (another replica may have imported)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.adapters.sql.tables import news_events
from services.rules.application.risk_states import set_news_calendar
from services.rules.domain.trade_events import NewsEvent

log = logging.getLogger(__name__)


class NewsCalendarRefresher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, period_seconds: float = 30.0) -> None:
        self._sessions = sessions
        self._period = period_seconds
        self._stopping = asyncio.Event()

    async def load(self) -> int:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(news_events.c.at, news_events.c.title, news_events.c.instruments).where(
                        news_events.c.restricted.is_(True)
                    )
                )
            ).all()
        set_news_calendar(
            tuple(
                NewsEvent(
                    at=row.at,
                    title=row.title,
                    instruments=None if row.instruments is None else frozenset(row.instruments),
                )
                for row in rows
            )
        )
        return len(rows)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.load()
            except Exception:  # keep the calendar we have through a database blip
                log.exception("news calendar refresh failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self._period)
            except TimeoutError:
                pass
