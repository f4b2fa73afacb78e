"""The trading calendar: which trade date an instant belongs to, and when each day's boundaries fall.

A trade date D is a weekday. It closes at its **day roll** (17:00 America/Chicago on D for CME) and is opened
by the roll time of the calendar day before it, so Sunday 17:00 CT opens Monday and Friday's roll is followed
by Sunday 17:00 (Saturday and Sunday are never trade dates, in any zone). The **EOD snapshot** (16:00 CT by
default) closes the day's figures; it comes at or before the roll.

A boundary at "00:00" means the end of the calendar day (24:00): with a midnight boundary in Europe/Prague the
snapshot at midnight closes the trade date whose calendar date ends there, and the next weekday opens at that
instant. After Friday's snapshot the next opening is Monday 00:00.

Every local wall time is turned into an instant through zoneinfo on the calendar date, so daylight-saving
changes move the UTC instant (16:00 CT is 22:00 UTC in winter and 21:00 UTC in summer). Fixed offsets are
never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)


class CalendarConfigError(ValueError):
    """A day-boundary configuration that cannot describe a trading day."""


class BoundaryKind(StrEnum):
    # The order of the members is the order in which boundaries at one instant fire.
    EOD_SNAPSHOT = "eod_snapshot"
    DAY_ROLL = "day_roll"
    SESSION_OPEN = "session_open"


@dataclass(frozen=True, slots=True)
class CalendarBoundary:
    at: datetime  # UTC
    kind: BoundaryKind
    trade_date: date  # the date the boundary closes (EOD, roll) or opens (session open)


def parse_wall_time(text: str, *, field: str) -> time:
    """ "HH:MM" (24 h) as a time; seconds are not part of the rule-set format."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise CalendarConfigError(f"{field}: {text!r} is not a time of day HH:MM")
    try:
        hour, minute = int(text[:2]), int(text[3:])
        return time(hour, minute)
    except ValueError:
        raise CalendarConfigError(f"{field}: {text!r} is not a time of day HH:MM") from None


def _closing_order(value: time) -> tuple[int, int]:
    # 00:00 as a closing boundary means 24:00 of the day, after every other time of that day.
    return (24, 0) if value == _MIDNIGHT else (value.hour, value.minute)


def is_trade_date(day: date) -> bool:
    return day.weekday() < 5


def next_trade_date(day: date) -> date:
    following = day + _ONE_DAY
    while not is_trade_date(following):
        following += _ONE_DAY
    return following


def previous_trade_date(day: date) -> date:
    preceding = day - _ONE_DAY
    while not is_trade_date(preceding):
        preceding -= _ONE_DAY
    return preceding


class TradingCalendar:
    """Trade dates and their boundaries for one day-boundary configuration (timezone, EOD snapshot, day
    roll)."""

    __slots__ = ("_zone", "day_roll", "eod_snapshot", "timezone_name")

    def __init__(
        self,
        timezone: str = "America/Chicago",
        eod_snapshot: time = time(16, 0),
        day_roll: time = time(17, 0),
    ) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarConfigError(f"timezone: {timezone!r} is not an IANA time zone") from None
        if _closing_order(eod_snapshot) > _closing_order(day_roll):
            raise CalendarConfigError(
                f"eod_snapshot {eod_snapshot:%H:%M} comes after day_roll {day_roll:%H:%M}: "
                "the snapshot must close the day's figures at or before the roll"
            )
        self.timezone_name = timezone
        self.eod_snapshot = eod_snapshot
        self.day_roll = day_roll

    @classmethod
    def cme(cls) -> TradingCalendar:
        return cls()

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    # -- instants of a trade date ---------------------------------------------------------------------------
    def local_instant(self, day: date, wall: time) -> datetime:
        """The UTC instant of wall-clock ``wall`` on calendar ``day`` in this zone; 00:00 means 24:00 of
        ``day``."""
        return _local_instant(self._zone, day, wall)

    def wall_instant(self, day: date, wall: time) -> datetime:
        """The UTC instant of ``wall`` on ``day``, with 00:00 meaning the start of ``day`` (for flat-by
        times)."""
        return datetime.combine(day, wall, tzinfo=self._zone).astimezone(UTC)

    def eod_snapshot_at(self, trade_date: date) -> datetime:
        return self.local_instant(trade_date, self.eod_snapshot)

    def day_roll_at(self, trade_date: date) -> datetime:
        """The roll that closes ``trade_date``."""
        return self.local_instant(trade_date, self.day_roll)

    def session_open_at(self, trade_date: date) -> datetime:
        """The instant that opens ``trade_date``: the roll time of the calendar day before it (Sunday for
        Monday)."""
        return self.local_instant(trade_date - _ONE_DAY, self.day_roll)

    def lockout_lifted_at(self, instant: datetime) -> datetime:
        """The instant a soft lockout taken at ``instant`` ends: the next day roll after it.

        That is the roll closing the instant's trade date. With a midnight roll the next weekday opens at the
        roll, and after Friday's snapshot the next roll is Monday 00:00 (rules-spec.md section 2), so a lockout
        taken on Friday lasts until Monday opens; a CME Friday has its own roll at 17:00.
        """
        trade_date = self.trade_date_of(instant)
        if self.day_roll == _MIDNIGHT:
            return self.session_open_at(next_trade_date(trade_date))
        return self.day_roll_at(trade_date)

    # -- which trade date an instant belongs to --------------------------------------------------------------
    def trade_date_of(self, instant: datetime) -> date:
        """The trade date whose roll comes first after ``instant`` (the weekend gap belongs to Monday)."""
        return self._first_trade_date_closing_after(instant, self.day_roll)

    def figures_date_of(self, instant: datetime) -> date:
        """The trade date whose figures ``instant`` counts toward: activity after a day's EOD snapshot counts
        toward the next trade date even before the roll (the maintenance break)."""
        return self._first_trade_date_closing_after(instant, self.eod_snapshot)

    def _first_trade_date_closing_after(self, instant: datetime, closing: time) -> date:
        if instant.tzinfo is None:
            raise ValueError("the trading calendar needs a timezone-aware instant")
        candidate = instant.astimezone(self._zone).date() - _ONE_DAY
        while True:
            if is_trade_date(candidate) and self.local_instant(candidate, closing) > instant:
                return candidate
            candidate += _ONE_DAY

    # -- boundaries in time order ----------------------------------------------------------------------------
    def boundaries_of(self, trade_date: date) -> tuple[CalendarBoundary, ...]:
        """EOD snapshot and roll that close ``trade_date``, then the opening of the next trade date."""
        following = next_trade_date(trade_date)
        return (
            CalendarBoundary(self.eod_snapshot_at(trade_date), BoundaryKind.EOD_SNAPSHOT, trade_date),
            CalendarBoundary(self.day_roll_at(trade_date), BoundaryKind.DAY_ROLL, trade_date),
            CalendarBoundary(self.session_open_at(following), BoundaryKind.SESSION_OPEN, following),
        )

    def boundaries_after(self, instant: datetime) -> Iterator[CalendarBoundary]:
        """Every boundary strictly after ``instant``, in firing order, without end."""
        trade_date = previous_trade_date(self.figures_date_of(instant))
        while True:
            for boundary in self.boundaries_of(trade_date):
                if boundary.at > instant:
                    yield boundary
            trade_date = next_trade_date(trade_date)

    def next_boundary_after(self, instant: datetime) -> CalendarBoundary:
        return next(self.boundaries_after(instant))


@lru_cache(maxsize=8192)
def _local_instant(zone: ZoneInfo, day: date, wall: time) -> datetime:
    if wall == _MIDNIGHT:
        day = day + _ONE_DAY
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
