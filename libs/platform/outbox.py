"""Transactional outbox and its relay.

`enqueue` writes one row per (event, destination) in the caller's transaction, so an event exists if and only if
the change that caused it committed. The relay delivers rows to the destination service's
`dynasty.events.v1.EventsService/DeliverEvent` at least once, then marks them delivered. If the relay dies between
sending and marking, the row is sent again later; the receiver's inbox makes that harmless.

Ordering (ADR 0003): one relay per service is active at a time (a PostgreSQL advisory lock elects it) and it sends
in outbox order; when a delivery fails, later events of the same (destination, aggregate) wait, so each receiver sees
an aggregate's events in the order they were committed. Events of different aggregates may overtake each other.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from libs.domain.aggregate import Aggregate
from libs.domain.events import DomainEvent
from libs.platform.tables import platform_tables

log = logging.getLogger(__name__)


async def enqueue(
    session: AsyncSession,
    *,
    schema: str,
    source: str,
    event: DomainEvent,
    aggregate_id: str,
    aggregate_version: int,
    destinations: Iterable[str],
) -> None:
    from libs.platform.db import to_json  # late import: db imports this module

    payload = {k: v for k, v in to_json(event).items() if k not in ("event_id", "occurred_at")}
    rows = [
        {
            "event_id": event.event_id,
            "destination": destination,
            "event_type": event.event_type,
            "source": source,
            "aggregate_id": aggregate_id,
            "aggregate_version": aggregate_version,
            "occurred_at": event.occurred_at,
            "payload": payload,
        }
        for destination in destinations
    ]
    if rows:
        await session.execute(insert(platform_tables(schema)["outbox"]), rows)


class SeenAggregates:
    """The aggregates repositories handed out or added, each once and in order, whose recorded events go to the
    outbox in the transaction that saves them. The unit of work's commit and the inbox handlers (which write in the
    inbox's session, not a unit of work's) both publish through this, so an event leaves the same way from either:
    the same aggregate id and version, the same destinations."""

    def __init__(self) -> None:
        self._seen: list[Aggregate] = []

    def track(self, aggregate: Aggregate) -> None:
        if aggregate not in self._seen:
            self._seen.append(aggregate)

    async def enqueue_events(
        self, session: AsyncSession, *, schema: str, source: str, routes: Mapping[str, Iterable[str]]
    ) -> None:
        for aggregate in self._seen:
            for event in aggregate.pull_events():
                await enqueue(
                    session,
                    schema=schema,
                    source=source,
                    event=event,
                    aggregate_id=aggregate.aggregate_id,
                    aggregate_version=aggregate.version,
                    destinations=tuple(routes.get(event.event_type, ())),
                )


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    event_id: str
    destination: str
    event_type: str
    source: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    payload: dict


# Sends one record to its destination; raises on failure. Production: GrpcEventSender.
Sender = Callable[[OutboxRecord], Awaitable[None]]


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    )


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str,
        send: Sender,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
        attempts_per_pass: int = 3,
        after_send: Callable[[OutboxRecord], None] | None = None,
    ) -> None:
        self._engine = engine
        self._schema = schema
        self._table = platform_tables(schema)["outbox"]
        self._send = send
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._attempts_per_pass = attempts_per_pass
        self._after_send = after_send  # a test hook: lets a test kill the relay between sending and marking
        self._lock_key = zlib.crc32(f"outbox-relay:{schema}".encode())
        self._stopping = asyncio.Event()

    async def run_once(self) -> int:
        """Deliver what is due now. Returns how many records were marked delivered."""
        delivered = 0
        async with self._engine.connect() as conn:
            got_lock = (await conn.execute(select(func.pg_try_advisory_lock(self._lock_key)))).scalar()
            if not got_lock:
                return 0  # another replica is the active relay
            try:
                delivered = await self._deliver_batch(conn)
            finally:
                await conn.execute(select(func.pg_advisory_unlock(self._lock_key)))
                await conn.commit()
        return delivered

    async def _deliver_batch(self, conn) -> int:
        t = self._table
        rows = (
            (
                await conn.execute(
                    select(t)
                    .where(t.c.delivered_at.is_(None), t.c.next_attempt_at <= func.now())
                    .order_by(t.c.id)
                    .limit(self._batch_size)
                )
            )
            .mappings()
            .all()
        )
        await conn.commit()
        blocked: set[tuple[str, str]] = set()
        delivered = 0
        for row in rows:
            key = (row["destination"], row["aggregate_id"])
            if key in blocked:
                continue
            record = OutboxRecord(
                id=row["id"],
                event_id=str(row["event_id"]),
                destination=row["destination"],
                event_type=row["event_type"],
                source=row["source"],
                aggregate_id=row["aggregate_id"],
                aggregate_version=row["aggregate_version"],
                occurred_at=row["occurred_at"],
                payload=row["payload"],
            )
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(_transient),
                    stop=stop_after_attempt(self._attempts_per_pass),
                    wait=wait_exponential_jitter(multiplier=0.05, max=2.0),
                    reraise=True,
                ):
                    with attempt:
                        await self._send(record)
            except Exception as exc:
                blocked.add(key)
                attempts = row["attempts"] + 1
                backoff = timedelta(seconds=min(300.0, 0.5 * 2 ** min(attempts, 10)))
                await conn.execute(
                    update(t)
                    .where(t.c.id == row["id"])
                    .values(attempts=attempts, last_error=str(exc)[:2000], next_attempt_at=func.now() + backoff)
                )
                await conn.commit()
                log.warning("outbox delivery of %s to %s failed: %s", record.event_id, record.destination, exc)
                continue
            if self._after_send is not None:
                self._after_send(record)
            await conn.execute(
                update(t).where(t.c.id == row["id"]).values(delivered_at=func.now(), attempts=row["attempts"] + 1)
            )
            await conn.commit()
            delivered += 1
        return delivered

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.run_once()
            except Exception:  # the relay must outlive a database blip
                log.exception("outbox relay pass failed")
                sent = 0
            if sent == 0:
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping.set()

    async def backlog(self) -> int:
        async with self._engine.connect() as conn:
            t = self._table
            return (
                await conn.execute(select(func.count()).select_from(t).where(t.c.delivered_at.is_(None)))
            ).scalar_one()
