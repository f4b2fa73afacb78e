"""DomainEvent: something that happened, recorded by an aggregate and delivered through the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    occurred_at: datetime  # timezone-aware UTC, taken from a Clock
    event_id: UUID = field(default_factory=uuid4)

    @property
    def event_type(self) -> str:
        return type(self).__name__
