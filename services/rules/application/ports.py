"""What the monitoring use cases need from the outside world (adapters implement these)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from services.rules.application.incoming import IncomingEvent
from services.rules.application.monitored_account import MonitoredAccount
from services.rules.application.risk_runner import StoredEvent


class MonitoringStore(Protocol):
    async def get_account(self, account_id: uuid.UUID, *, for_update: bool = False) -> MonitoredAccount | None: ...
    async def lock_by_platform_id(self, platform_account_id: str) -> MonitoredAccount | None: ...
    async def lock_holding(self, symbols: tuple[str, ...], since: datetime) -> list[MonitoredAccount]: ...
    async def activate(self, account: MonitoredAccount, snapshot: dict, engine_status: str, at: datetime) -> None: ...
    async def set_status(self, account_id: uuid.UUID, status: str) -> None: ...
    async def save_state(
        self,
        account: MonitoredAccount,
        snapshot: dict,
        engine_status: str,
        held_symbols: list[str],
        last_event_at: datetime | None,
        last_event_row: int | None,
    ) -> None: ...
    async def store_event(self, event: IncomingEvent, account_id: uuid.UUID | None, outcome: str) -> int | None: ...
    async def is_known_event(self, provider_event_id: str) -> bool: ...
    async def quarantine(self, event: IncomingEvent, reason: str) -> bool: ...
    async def list_quarantined(self, limit: int) -> list[dict]: ...
    async def events_for_replay(
        self,
        account_id: uuid.UUID,
        after: tuple[datetime, int] | None,
        until: tuple[datetime, int],
        held_symbols: set[str],
    ) -> list[StoredEvent]: ...
    async def add_snapshot(self, account: MonitoredAccount, at: datetime, row_id: int, snapshot: dict) -> None: ...
    async def last_snapshot_before(
        self, account: MonitoredAccount, at: datetime, row_id: int
    ) -> tuple[dict, datetime, int] | None: ...
    async def drop_snapshots_from(self, account: MonitoredAccount, at: datetime, row_id: int) -> None: ...
    async def add_violation(
        self,
        account: MonitoredAccount,
        *,
        rule: str,
        severity: str,
        occurred_at: datetime,
        evidence: dict,
        trigger_event_id: str | None,
        dedup_key: str,
    ) -> uuid.UUID | None: ...
    async def list_violations(self, account_id: uuid.UUID | None, limit: int) -> list[dict]: ...
    async def add_job(
        self, account: MonitoredAccount, kind: str, key: str, payload: dict, decided_at: datetime
    ) -> bool: ...
    async def publish(self, event, account: MonitoredAccount, version: int) -> None: ...


class MonitoringUnitOfWork(Protocol):
    store: MonitoringStore

    async def __aenter__(self) -> MonitoringUnitOfWork: ...
    async def __aexit__(self, *exc_info: object) -> None: ...
    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], MonitoringUnitOfWork]


class LiveNotices(Protocol):
    """Fire-and-forget updates after a commit (the WebSocket's risk stream): losing one loses nothing durable."""

    async def risk_updated(self, user_id: str, update: dict) -> None: ...


class TradingPlatform(Protocol):
    """Enforcement on YourPropFirm; each call idempotent under the key given."""

    async def flatten(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict: ...
    async def disable(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict: ...
