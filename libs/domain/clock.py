"""Clock: the only way domain and application code learn the time, so tests can fix it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; for tests and replays."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> None:
        self._now += by

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._now = at.astimezone(UTC)


def require_aware(value: datetime, *, field: str = "timestamp") -> datetime:
    """Refuse naive datetimes: every instant in this system carries its offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: {value.isoformat()} has no UTC offset")
    return value.astimezone(UTC)
