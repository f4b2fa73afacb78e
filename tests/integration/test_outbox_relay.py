"""The outbox relay delivers at least once and the inbox makes the receiver handle each event once, even when the
relay dies between sending and marking the event sent. The receiver is a real gRPC server over real PostgreSQL."""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
import psycopg
import pytest
from sqlalchemy import text

from devstack.stack import free_port
from dynasty.events.v1 import events_service_pb2_grpc
from libs.domain.aggregate import Aggregate
from libs.domain.clock import FixedClock
from libs.domain.events import DomainEvent
from libs.platform.db import SqlAlchemyUnitOfWork, create_engine, session_factory
from libs.platform.event_sender import GrpcEventSender
from libs.platform.inbox import InboxEventsServicer
from libs.platform.outbox import OutboxRelay
from libs.platform.tables import create_platform_tables

CLOCK = FixedClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))


@dataclass(frozen=True, kw_only=True)
class BalanceChanged(DomainEvent):
    step: int


@dataclass(eq=False)
class Account(Aggregate):
    name: str
    version: int = 1
    _events: list = field(default_factory=list)

    @property
    def aggregate_id(self) -> str:
        return self.name


class RelayKilled(BaseException):
    """Stands for the process dying: BaseException, so nothing in the relay catches it."""


def make_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.commit()
    from sqlalchemy import create_engine as create_sync_engine

    from libs.platform.db import sync_url

    engine = create_sync_engine(sync_url(database_url))
    with engine.begin() as sync_conn:
        create_platform_tables(sync_conn, schema)
    engine.dispose()


@pytest.fixture
async def pair(database_url, unique):
    """A sender schema with an outbox and a receiver schema with an inbox behind a real gRPC server."""
    sender_schema, receiver_schema = f"out_{unique}", f"in_{unique}"
    make_schema(database_url, sender_schema)
    make_schema(database_url, receiver_schema)
    sender_engine = create_engine(database_url, sender_schema)
    receiver_engine = create_engine(database_url, receiver_schema)
    handled: list[int] = []

    async def on_balance_changed(session, event):
        handled.append(event.payload["step"])

    server = grpc.aio.server()
    events_service_pb2_grpc.add_EventsServiceServicer_to_server(
        InboxEventsServicer(session_factory(receiver_engine), receiver_schema, {"BalanceChanged": on_balance_changed}),
        server,
    )
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    sender = GrpcEventSender({"receiver": f"127.0.0.1:{port}"})
    yield {
        "schema": sender_schema,
        "engine": sender_engine,
        "sessions": session_factory(sender_engine),
        "sender": sender,
        "handled": handled,
        "receiver_engine": receiver_engine,
        "receiver_schema": receiver_schema,
        "server": server,
        "port": port,
    }
    await sender.close()
    await server.stop(0)
    await sender_engine.dispose()
    await receiver_engine.dispose()
    with psycopg.connect(database_url) as conn:
        conn.execute(f'DROP SCHEMA "{sender_schema}" CASCADE')
        conn.execute(f'DROP SCHEMA "{receiver_schema}" CASCADE')
        conn.commit()


async def commit_events(pair, name: str, steps: list[int]) -> None:
    account = Account(name=name)
    for step in steps:
        account._record_event(BalanceChanged(occurred_at=CLOCK.now(), step=step))
    uow = SqlAlchemyUnitOfWork(
        pair["sessions"], schema=pair["schema"], source="test", clock=CLOCK, routes={"BalanceChanged": ["receiver"]}
    )
    async with uow:
        uow.track(account)
        await uow.commit()


async def pending(pair) -> int:
    async with pair["engine"].connect() as conn:
        sql = f'SELECT count(*) FROM "{pair["schema"]}".outbox WHERE delivered_at IS NULL'
        return (await conn.execute(text(sql))).scalar_one()


async def test_an_event_is_handled_once_when_the_relay_dies_between_sending_and_marking(pair):
    await commit_events(pair, "acct-1", [1])

    def die(record):
        raise RelayKilled

    dying = OutboxRelay(pair["engine"], schema=pair["schema"], send=pair["sender"], after_send=die)
    with pytest.raises(RelayKilled):
        await dying.run_once()
    assert pair["handled"] == [1]  # the receiver got it ...
    assert await pending(pair) == 1  # ... but the relay never marked it sent

    # The advisory lock of the dead relay went with its connection; a new relay takes over and resends.
    await pair["engine"].dispose()
    restarted = OutboxRelay(pair["engine"], schema=pair["schema"], send=pair["sender"])
    assert await restarted.run_once() == 1
    assert pair["handled"] == [1]  # the inbox turned the redelivery into a no-op
    assert await pending(pair) == 0
    async with pair["receiver_engine"].connect() as conn:
        inbox = (await conn.execute(text(f'SELECT count(*) FROM "{pair["receiver_schema"]}".inbox'))).scalar_one()
    assert inbox == 1


async def test_events_of_one_aggregate_arrive_in_order_after_the_receiver_comes_back(pair):
    await pair["server"].stop(0)  # the receiver is down
    await commit_events(pair, "acct-2", [1, 2, 3])
    relay = OutboxRelay(pair["engine"], schema=pair["schema"], send=pair["sender"], attempts_per_pass=1)
    assert await relay.run_once() == 0
    assert await pending(pair) == 3  # nothing lost, nothing skipped ahead

    server = grpc.aio.server()
    events_service_pb2_grpc.add_EventsServiceServicer_to_server(
        InboxEventsServicer(
            session_factory(pair["receiver_engine"]),
            pair["receiver_schema"],
            {"BalanceChanged": lambda s, e: _append(pair["handled"], e)},
        ),
        server,
    )
    server.add_insecure_port(f"127.0.0.1:{pair['port']}")
    await server.start()
    try:
        async with pair["engine"].begin() as conn:  # skip the back-off wait
            await conn.execute(text(f'UPDATE "{pair["schema"]}".outbox SET next_attempt_at = now()'))
        for _ in range(20):
            await relay.run_once()
            if not await pending(pair):
                break
            await asyncio.sleep(0.1)
        assert pair["handled"] == [1, 2, 3]
    finally:
        await server.stop(0)


async def _append(handled, event):
    handled.append(event.payload["step"])


async def test_only_one_relay_is_active_at_a_time(pair):
    await commit_events(pair, "acct-3", [1])
    async with pair["engine"].connect() as holder:
        relay = OutboxRelay(pair["engine"], schema=pair["schema"], send=pair["sender"])
        await holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": relay._lock_key})
        assert await relay.run_once() == 0  # another replica holds the relay lock
        await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": relay._lock_key})
    assert await relay.run_once() == 1
