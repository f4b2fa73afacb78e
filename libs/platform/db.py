"""The async database engine and the unit of work every service builds on.

One PostgreSQL schema per service; the engine pins the session's search_path to it and every table names its
schema explicitly. The unit of work rolls back unless `commit()` is called (and on any error), and on commit writes
the domain events of the aggregates it saw into the outbox, inside the same transaction.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from libs.domain.aggregate import Aggregate
from libs.domain.clock import Clock
from libs.platform import outbox as outbox_module


def async_url(url: str) -> str:
    """Accept the usual postgresql:// spelling and pick the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def sync_url(url: str) -> str:
    """The psycopg (sync) spelling, for Alembic migrations."""
    return "postgresql+psycopg://" + async_url(url)[len("postgresql+asyncpg://") :]


def create_engine(url: str, schema: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": {"search_path": schema, "application_name": f"dynasty-{schema}"}},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def schema_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema)


def to_json(value: Any) -> Any:
    """JSON-ready form of domain values: Decimal as a string, never a float; datetimes ISO 8601 with offset."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str | int):  # enums
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_json(value), sort_keys=True, separators=(",", ":"))


class SqlAlchemyUnitOfWork:
    """`async with uow: ...; await uow.commit()`. Leaving the block without commit rolls back.

    Subclasses build their repositories in `_open(session)`; repositories call `track(aggregate)` for every
    aggregate they hand out or add, so that `commit()` can move its events into the outbox.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        schema: str,
        source: str,
        clock: Clock,
        routes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._sessions = sessions
        self.schema = schema
        self.source = source
        self.clock = clock
        self._routes = {k: tuple(v) for k, v in (routes or {}).items()}
        self._session: AsyncSession | None = None
        self._seen = outbox_module.SeenAggregates()
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._session

    def _open(self, session: AsyncSession) -> None:
        """Build repositories on the session. Overridden by each service's unit of work."""

    async def __aenter__(self) -> SqlAlchemyUnitOfWork:
        self._session = self._sessions()
        self._seen = outbox_module.SeenAggregates()
        self.committed = False
        self._open(self._session)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.rollback()
        finally:
            await self.session.close()
            self._session = None

    def track(self, aggregate: Aggregate) -> None:
        self._seen.track(aggregate)

    async def commit(self) -> None:
        await self._seen.enqueue_events(self.session, schema=self.schema, source=self.source, routes=self._routes)
        await self.session.commit()
        self.committed = True

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()


UnitOfWorkFactory = Callable[[], SqlAlchemyUnitOfWork]
