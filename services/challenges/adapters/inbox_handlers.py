"""Inbox handlers: events other services deliver to us, applied in the inbox's transaction.

The inbox hands us its session; repositories and the audit log are built on it, and the events our aggregates
record go to our outbox in that same transaction, as the unit of work would do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import InvalidArgument
from libs.platform import outbox
from libs.platform.audit import SqlAlchemyAuditLog
from libs.platform.inbox import ReceivedEvent
from services.challenges.adapters.sql.order_repository import SqlAlchemyAccountRepository
from services.challenges.adapters.sql.tables import SCHEMA
from services.challenges.application.apply_rules_events import RulesVerdict, apply_rules_verdict


def _verdict(event: ReceivedEvent) -> RulesVerdict:
    payload = event.payload
    try:
        account_id = UUID(str(payload["account_id"]))
        at = datetime.fromisoformat(str(payload["at"]))
    except (KeyError, ValueError):
        raise InvalidArgument(
            f"{event.event_type} needs account_id (UUID) and at (ISO 8601)", field="payload"
        ) from None
    if at.tzinfo is None:
        raise InvalidArgument("at must carry its UTC offset", field="payload.at")
    return RulesVerdict(
        event_type=event.event_type,
        account_id=account_id,
        at=at,
        rule=payload.get("rule"),
        phase=payload.get("phase"),
    )


def rules_event_handlers(
    routes: Mapping[str, Iterable[str]],
) -> dict[str, Callable]:
    async def handle(session: AsyncSession, event: ReceivedEvent) -> None:
        seen = outbox.SeenAggregates()
        accounts = SqlAlchemyAccountRepository(session, seen.track)
        await apply_rules_verdict(accounts, SqlAlchemyAuditLog(session, SCHEMA), _verdict(event))
        await seen.enqueue_events(session, schema=SCHEMA, source=SCHEMA, routes=routes)

    return {"AccountBreached": handle, "AccountPhasePassed": handle, "AccountBreachOverturned": handle}
