"""The receiving side of the outbox: an inbox that makes event handlers idempotent.

`InboxEventsServicer` implements dynasty.events.v1.EventsService. For each delivery it opens a transaction, inserts
the event id into the inbox (ON CONFLICT DO NOTHING) and, only if the row is new, runs the handler for the event type
in the same transaction. A redelivery finds the row and becomes a logged no-op; a handler failure rolls both back so
the relay retries later. Unknown event types are recorded and ignored (tolerant reader).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.domain.errors import InvalidArgument
from libs.platform.tables import platform_tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: UUID
    event_type: str
    source: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    payload: dict


EventHandler = Callable[[AsyncSession, ReceivedEvent], Awaitable[None]]


async def accept_once(session: AsyncSession, schema: str, event: ReceivedEvent) -> bool:
    """True when this event id is new to the inbox (and is now recorded), False for a redelivery."""
    inbox = platform_tables(schema)["inbox"]
    result = await session.execute(
        insert(inbox)
        .values(event_id=event.event_id, source=event.source, event_type=event.event_type)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox.c.event_id)
    )
    return result.first() is not None


class InboxEventsServicer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        schema: str,
        handlers: Mapping[str, EventHandler],
    ) -> None:
        self._sessions = sessions
        self._schema = schema
        self._handlers = dict(handlers)

    async def receive(self, event: ReceivedEvent) -> bool:
        """Handle an event at most once. Returns True when it was a duplicate."""
        async with self._sessions() as session, session.begin():
            if not await accept_once(session, self._schema, event):
                log.info("duplicate delivery of event %s (%s) ignored", event.event_id, event.event_type)
                return True
            handler = self._handlers.get(event.event_type)
            if handler is None:
                log.info("no handler for %s; recorded and ignored", event.event_type)
            else:
                await handler(session, event)
            return False

    # -- the gRPC face (dynasty.events.v1.EventsService) ---------------------------------------------------------
    async def DeliverEvent(self, request, context):
        from dynasty.events.v1 import events_service_pb2

        try:
            event_id = UUID(request.event_id)
        except ValueError:
            raise InvalidArgument("event_id must be a UUID", field="event_id") from None
        try:
            payload = json.loads(request.payload_json or "{}")
        except json.JSONDecodeError:
            raise InvalidArgument("payload_json is not valid JSON", field="payload_json") from None
        if not request.event_type:
            raise InvalidArgument("event_type is required", field="event_type")
        event = ReceivedEvent(
            event_id=event_id,
            event_type=request.event_type,
            source=request.source,
            aggregate_id=request.aggregate_id,
            aggregate_version=request.aggregate_version,
            occurred_at=request.occurred_at.ToDatetime(tzinfo=UTC),
            payload=payload,
        )
        duplicate = await self.receive(event)
        return events_service_pb2.DeliverEventResponse(duplicate=duplicate)
