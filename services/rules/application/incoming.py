"""What the rules service is told by the platform, already parsed and validated by the adapter that received it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.rules.domain.trade_events import Fill, Mark, TimePassed

TRADE = "trade"
QUOTE = "quote"
POSITION = "position"
ACCOUNT = "account"
CLOCK = "clock"  # ours, not the platform's: time passing for an idle account
EVENT_TYPES = (TRADE, QUOTE, POSITION, ACCOUNT)


@dataclass(frozen=True)
class IncomingEvent:
    provider_event_id: str
    event_type: str  # trade | quote | position | account
    platform_account_id: str | None  # None for quotes
    sequence: int | None
    at: datetime  # exchange time, UTC
    payload: dict  # the whole envelope, as received
    payload_sha256: str
    fill: Fill | None = None  # trades
    marks: tuple[Mark, ...] = ()  # quotes
    order_id: str | None = None  # trades
    tick: TimePassed | None = None  # clock ticks
    payload_json: str | None = None  # the envelope's JSON text as received, stored as is (no re-encoding)

    @property
    def symbols(self) -> tuple[str, ...]:
        if self.fill is not None:
            return (self.fill.symbol,)
        return tuple(mark.symbol for mark in self.marks)

    @property
    def is_flatten_echo(self) -> bool:
        """A fill of the platform's own liquidation, which the engine has already carried out at the breach."""
        return self.order_id is not None and self.order_id.startswith("flatten-")
