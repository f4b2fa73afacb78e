"""An account under monitoring as the use cases see it: who it is, the rule set in force, its last risk state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

MONITORING = "monitoring"
STOPPED = "stopped"  # failed, suspended or closed in challenges: events are stored, not judged


@dataclass
class MonitoredAccount:
    account_id: uuid.UUID
    platform_account_id: str
    user_id: str
    program_id: str
    phase: str
    attempt: int
    rule_set: dict
    status: str
    snapshot: dict | None
    last_event_at: datetime | None
    last_event_row: int | None
    # Where the snapshot stands (it may trail last_event_* by quotes that decided nothing: ADR 0061), the row's
    # version (bumped by every write; a cached AccountRisk is valid only at the version it was read at), and the
    # symbols held (what the quotes of a batch are matched against before any state is restored).
    saved_event_at: datetime | None = None
    saved_event_row: int | None = None
    state_version: int = 0
    held_symbols: tuple[str, ...] = ()

    def effective_last(self, cursors: dict[str, tuple[datetime, int]]) -> tuple[datetime, int] | None:
        """The account's effective last event (ADR 0068): its own last one, or the latest applied quote of a symbol
        it holds, whichever is later (quotes that decided nothing wrote nothing of the account)."""
        last = self.last_position
        for symbol in self.held_symbols:
            cursor = cursors.get(symbol)
            if cursor is not None and (last is None or cursor > last):
                last = cursor
        return last

    def stand_behind(self, cursors: dict[str, tuple[datetime, int]]) -> None:
        """Make last_event_* the account's effective last event."""
        last = self.effective_last(cursors)
        if last is not None:
            self.last_event_at, self.last_event_row = last

    @property
    def last_position(self) -> tuple[datetime, int] | None:
        return None if self.last_event_at is None else (self.last_event_at, self.last_event_row)

    @property
    def saved_position(self) -> tuple[datetime, int] | None:
        return None if self.saved_event_at is None else (self.saved_event_at, self.saved_event_row)
