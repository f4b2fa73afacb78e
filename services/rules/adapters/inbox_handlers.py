"""Events challenges delivers to our inbox (ADR 0050), applied in the inbox's transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import InvalidArgument
from libs.platform.inbox import ReceivedEvent
from services.rules.adapters.sql.monitoring_store import SqlMonitoringStore
from services.rules.adapters.yourpropfirm.envelopes import parse_envelope
from services.rules.application.apply_account_scaled import ScaleMonitoring, apply_account_scaled
from services.rules.application.change_monitoring import change_monitoring
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from services.rules.application.start_monitoring import StartMonitoring, start_monitoring


def _field(payload: dict, name: str, kind: type, event_type: str):
    value = payload.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InvalidArgument(f"{event_type} needs {name} ({kind.__name__})", field=f"payload.{name}")
    return value


def _account_id(payload: dict, event_type: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload["account_id"]))
    except (KeyError, ValueError):
        raise InvalidArgument(f"{event_type} needs account_id (UUID)", field="payload.account_id") from None


def _reparse(payload: dict):
    return parse_envelope(json.dumps(payload).encode())


async def _activated(session: AsyncSession, event: ReceivedEvent) -> None:
    payload = event.payload
    kind = event.event_type
    rule_set = payload.get("rule_set")
    if isinstance(rule_set, str):
        rule_set = json.loads(rule_set)
    if not isinstance(rule_set, dict):
        raise InvalidArgument("AccountActivated needs rule_set (a JSON object)", field="payload.rule_set")
    await start_monitoring(
        SqlMonitoringStore(session),
        StartMonitoring(
            account_id=_account_id(payload, kind),
            user_id=_field(payload, "user_id", str, kind),
            program_id=_field(payload, "program_id", str, kind),
            phase=_field(payload, "phase", str, kind),
            attempt=_field(payload, "attempt", int, kind),
            rule_set=rule_set,
            platform_account_id=_field(payload, "platform_account_id", str, kind),
            at=event.occurred_at
            if isinstance(event.occurred_at, datetime)
            else datetime.fromisoformat(event.occurred_at),
        ),
    )
    # Webhooks can overtake the activation: what was quarantined for this account is applied now, in this transaction.
    await IngestTradeEventsHandler(uow=None).release_quarantined(
        SqlMonitoringStore(session), _account_id(payload, kind), _reparse
    )


async def _status_changed(session: AsyncSession, event: ReceivedEvent) -> None:
    payload = event.payload
    kind = event.event_type
    await change_monitoring(
        SqlMonitoringStore(session),
        _account_id(payload, kind),
        _field(payload, "status", str, kind),
        _field(payload, "attempt", int, kind),
    )


async def _scaled(session: AsyncSession, event: ReceivedEvent) -> None:
    payload = event.payload
    kind = event.event_type
    rule_set = payload.get("rule_set")
    if not isinstance(rule_set, dict):
        raise InvalidArgument("AccountScaled needs rule_set (a JSON object)", field="payload.rule_set")
    await apply_account_scaled(
        SqlMonitoringStore(session),
        ScaleMonitoring(
            account_id=_account_id(payload, kind),
            attempt=_field(payload, "attempt", int, kind),
            step=_field(payload, "step", int, kind),
            account_size=_field(payload, "account_size", str, kind),
            rule_set=rule_set,
            at=event.occurred_at
            if isinstance(event.occurred_at, datetime)
            else datetime.fromisoformat(event.occurred_at),
        ),
    )


def challenges_event_handlers() -> dict[str, Callable]:
    return {"AccountActivated": _activated, "AccountStatusChanged": _status_changed, "AccountScaled": _scaled}
