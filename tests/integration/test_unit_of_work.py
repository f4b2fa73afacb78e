"""The unit of work against real PostgreSQL: nothing persists unless committed; events reach the outbox only with
the change that caused them."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from libs.domain.aggregate import Aggregate
from libs.domain.clock import FixedClock
from libs.domain.events import DomainEvent
from libs.platform.db import SqlAlchemyUnitOfWork, create_engine, session_factory

CLOCK = FixedClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))


@dataclass(frozen=True, kw_only=True)
class ThingHappened(DomainEvent):
    name: str


@dataclass(eq=False)
class Thing(Aggregate):
    name: str
    version: int = 1
    _events: list = field(default_factory=list)

    @property
    def aggregate_id(self) -> str:
        return self.name


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url, "challenges")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS challenges.uow_probe (name text primary key)"))
    yield session_factory(engine)
    await engine.dispose()


def make_uow(sessions):
    return SqlAlchemyUnitOfWork(
        sessions, schema="challenges", source="challenges", clock=CLOCK, routes={"ThingHappened": ["rules"]}
    )


async def count(sessions, sql: str, **params) -> int:
    async with sessions() as s:
        return (await s.execute(text(sql), params)).scalar_one()


async def test_rolls_back_uncommitted_work_by_default(sessions, unique):
    async with make_uow(sessions) as uow:
        await uow.session.execute(text("INSERT INTO challenges.uow_probe VALUES (:n)"), {"n": unique})
    assert await count(sessions, "SELECT count(*) FROM challenges.uow_probe WHERE name = :n", n=unique) == 0


async def test_rolls_back_on_error_even_after_writing(sessions, unique):
    with pytest.raises(RuntimeError):
        async with make_uow(sessions) as uow:
            await uow.session.execute(text("INSERT INTO challenges.uow_probe VALUES (:n)"), {"n": unique})
            raise RuntimeError("boom")
    assert await count(sessions, "SELECT count(*) FROM challenges.uow_probe WHERE name = :n", n=unique) == 0


async def test_commit_persists_the_change_and_its_events_together(sessions, unique):
    thing = Thing(name=unique)
    thing._record_event(ThingHappened(occurred_at=CLOCK.now(), name=unique))
    async with make_uow(sessions) as uow:
        uow.track(thing)
        await uow.session.execute(text("INSERT INTO challenges.uow_probe VALUES (:n)"), {"n": unique})
        await uow.commit()
    assert await count(sessions, "SELECT count(*) FROM challenges.uow_probe WHERE name = :n", n=unique) == 1
    sql = "SELECT count(*) FROM challenges.outbox WHERE aggregate_id = :n AND destination = 'rules'"
    assert await count(sessions, sql, n=unique) == 1


async def test_events_of_a_rolled_back_change_never_reach_the_outbox(sessions, unique):
    thing = Thing(name=unique)
    thing._record_event(ThingHappened(occurred_at=CLOCK.now(), name=unique))
    async with make_uow(sessions) as uow:
        uow.track(thing)  # no commit
    assert await count(sessions, "SELECT count(*) FROM challenges.outbox WHERE aggregate_id = :n", n=unique) == 0
