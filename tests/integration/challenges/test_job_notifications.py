"""The provisioning worker's wake-up from PostgreSQL (ADR 0059): a job queued in a transaction is announced when that
transaction commits, never when it rolls back, and the listener turns the announcement into a wake-up, so a worker
in another process starts at once instead of at its next poll."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from libs.platform.db import create_engine, session_factory
from services.challenges.adapters.job_notifications import PostgresJobNotifications, asyncpg_dsn
from services.challenges.adapters.sql.order_repository import JOBS_CHANNEL, SqlAlchemyProvisioningJobs
from tests.integration.challenges.test_account_lifecycle import active_account


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    async def next(self, within: float = 5.0) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout=within)
        except TimeoutError:
            return False
        self.event.clear()
        return True


@pytest.fixture
async def listening(database_url):
    wakes = Wakes()
    listener = PostgresJobNotifications(database_url, wakes, reconnect_seconds=0.1)
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), timeout=10)
    assert await wakes.next()  # one wake on connecting: look for what was queued meanwhile
    yield wakes
    listener.stop()
    await task


async def test_an_announcement_wakes_on_commit_and_never_on_rollback(database_url, listening):
    engine = create_engine(database_url, "challenges", pool_size=1)
    try:
        async with session_factory(engine)() as session:
            async with session.begin():
                await session.execute(select(func.pg_notify(JOBS_CHANNEL, "provisioning")))
                assert not await listening.next(within=0.3)  # not before the commit
            assert await listening.next()
            transaction = await session.begin()
            await session.execute(select(func.pg_notify(JOBS_CHANNEL, "provisioning")))
            await transaction.rollback()
            assert not await listening.next(within=0.5)
    finally:
        await engine.dispose()


async def test_queueing_a_provisioning_job_announces_it(purchase, database_url, listening):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    listening.event.clear()
    engine = create_engine(database_url, "challenges", pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            # The account's job exists (done): queueing it again changes nothing but is still announced.
            await SqlAlchemyProvisioningJobs(session).enqueue(account["id"])
        assert await listening.next()
    finally:
        await engine.dispose()


def test_the_listener_takes_any_spelling_of_the_database_url():
    assert asyncpg_dsn("postgresql+asyncpg://u@h:5432/d") == "postgresql://u@h:5432/d"
    assert asyncpg_dsn("postgres://u@h/d") == "postgresql://u@h/d"
