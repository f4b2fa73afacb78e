"""Wakes the provisioning worker when a paying transaction commits a job: PostgreSQL LISTEN on the channel the job
queues NOTIFY in the same transaction (adapters/sql/order_repository.py, JOBS_CHANNEL).

This is what lets the worker run in its own process (or in every replica) and still start within milliseconds of
the payment instead of at its next poll. Notifications are a hint, not the queue: the jobs table is the truth, so a
notification lost while the connection was down costs at most one poll interval, and after every (re)connect the
worker is woken once to look for what it may have missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from libs.platform.db import async_url
from services.challenges.adapters.sql.order_repository import JOBS_CHANNEL

log = logging.getLogger(__name__)


def asyncpg_dsn(database_url: str) -> str:
    """asyncpg takes the plain postgresql:// spelling; the services' settings may name a SQLAlchemy driver."""
    return "postgresql://" + async_url(database_url).removeprefix("postgresql+asyncpg://")


class PostgresJobNotifications:
    def __init__(
        self,
        database_url: str,
        wake: Callable[[], None],
        *,
        channel: str = JOBS_CHANNEL,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._wake = wake
        self._channel = channel
        self._reconnect_seconds = reconnect_seconds
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()  # set while listening (tests wait for it)

    async def run(self) -> None:
        while not self._stopping.is_set():
            lost = asyncio.Event()
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn, server_settings={"application_name": "dynasty-jobs"})
                connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await connection.add_listener(self._channel, lambda *_notice: self._wake())
                self.connected.set()
                self._wake()  # jobs may have been queued while we were not listening
                stop = asyncio.create_task(self._stopping.wait())
                gone = asyncio.create_task(lost.wait())
                await asyncio.wait({stop, gone}, return_when=asyncio.FIRST_COMPLETED)
                for task in (stop, gone):
                    task.cancel()
                if lost.is_set():
                    log.warning("job notification connection lost; reconnecting (the poll covers the gap)")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot listen for job notifications (%s); retrying in %.1fs", exc, self._reconnect_seconds)
            finally:
                self.connected.clear()
                if connection is not None and not connection.is_closed():
                    await connection.close()
            if not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._reconnect_seconds)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping.set()
