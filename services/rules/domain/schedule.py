"""The scheduled boundaries of one account, in firing order: the calendar's EOD snapshots, day rolls and
session opens, the rule set's flat-by instants, and the starts of news windows.

The schedule is a pure function of the rule set, the news calendar and an instant, so an engine restored from
a snapshot rebuilds exactly the boundaries still to fire after its cursor.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

from libs.domain.calendar import BoundaryKind as CalendarKind
from libs.domain.calendar import next_trade_date, previous_trade_date
from libs.domain.rule_set import RuleSet
from services.rules.domain.decisions import Boundary, BoundaryKind
from services.rules.domain.trade_events import NewsEvent

# Boundaries at one instant fire in this order: a flat-by closes positions before a news window could see
# them, the EOD snapshot closes the figures before the roll opens the next day.
_FIRING_ORDER = {
    BoundaryKind.FLAT_BY: 0,
    BoundaryKind.NEWS_WINDOW_START: 1,
    BoundaryKind.EOD_SNAPSHOT: 2,
    BoundaryKind.DAY_ROLL: 3,
    BoundaryKind.SESSION_OPEN: 4,
}
_FROM_CALENDAR = {
    CalendarKind.EOD_SNAPSHOT: BoundaryKind.EOD_SNAPSHOT,
    CalendarKind.DAY_ROLL: BoundaryKind.DAY_ROLL,
    CalendarKind.SESSION_OPEN: BoundaryKind.SESSION_OPEN,
}
_ONE_DAY = timedelta(days=1)


def _key(boundary: Boundary) -> tuple[datetime, int]:
    return (boundary.at, _FIRING_ORDER[boundary.kind])


class NewsWindow:
    __slots__ = ("end", "event", "start")

    def __init__(self, event: NewsEvent, before: timedelta, after: timedelta) -> None:
        self.event = event
        self.start = event.at - before
        self.end = event.at + after

    def covers(self, instant: datetime, symbol: str) -> bool:
        # Both ends are inside the window.
        return self.start <= instant <= self.end and self.event.affects(symbol)


class BoundarySchedule:
    def __init__(self, rule_set: RuleSet, news: Sequence[NewsEvent]) -> None:
        self._rule_set = rule_set
        self._calendar = rule_set.calendar
        if rule_set.news is None:
            self.news_windows: tuple[NewsWindow, ...] = ()
            self._news_span = timedelta(0)
        else:
            before = timedelta(seconds=rule_set.news.before_seconds)
            after = timedelta(seconds=rule_set.news.after_seconds)
            self.news_windows = tuple(
                sorted((NewsWindow(event, before, after) for event in news), key=lambda window: window.start)
            )
            self._news_span = before + after
        self._news_starts = [window.start for window in self.news_windows]

    def flat_by_at(self, trade_date: date) -> datetime | None:
        flat_by = self._rule_set.flat_by
        if flat_by is None:
            return None
        at = self._calendar.wall_instant(trade_date, flat_by.time)
        if at > self._calendar.day_roll_at(trade_date):
            # A flat-by time later than the roll belongs to the evening that opens the trade date.
            at = self._calendar.wall_instant(trade_date - _ONE_DAY, flat_by.time)
        return at

    def in_flat_by_period(self, instant: datetime) -> bool:
        """Whether ``instant`` lies between a trade date's flat-by and the opening of the next session.

        A property of the instant, derived from the calendar: an account's first event on a Saturday is inside
        Friday's flat-by period although the engine never saw Friday's flat-by fire.
        """
        if self._rule_set.flat_by is None:
            return False
        calendar = self._calendar
        trade_date = calendar.trade_date_of(instant)
        # The period that covers an instant began on its own trade date or on the one before (the weekend gap
        # belongs to Monday, Friday's flat-by covers it).
        for day in (trade_date, previous_trade_date(trade_date)):
            start = self.flat_by_at(day)
            if start is not None and start <= instant < calendar.session_open_at(next_trade_date(day)):
                return True
        return False

    def _calendar_boundaries_after(self, instant: datetime) -> Iterator[Boundary]:
        calendar = self._calendar
        trade_date = previous_trade_date(calendar.figures_date_of(instant))
        while True:
            cycle = [
                Boundary(boundary.at, _FROM_CALENDAR[boundary.kind], boundary.trade_date)
                for boundary in calendar.boundaries_of(trade_date)
            ]
            flat_by = self.flat_by_at(trade_date)
            if flat_by is not None:
                cycle.append(Boundary(flat_by, BoundaryKind.FLAT_BY, trade_date))
            cycle.sort(key=_key)
            for boundary in cycle:
                if boundary.at > instant:
                    yield boundary
            trade_date = next_trade_date(trade_date)

    def _news_boundaries_after(self, instant: datetime) -> Iterator[Boundary]:
        # One boundary per distinct start instant: releases at the same minute are checked together.
        starts: dict[datetime, list[str]] = {}
        for window in self.news_windows:
            if window.start > instant:
                starts.setdefault(window.start, []).append(window.event.title)
        for start, titles in starts.items():
            yield Boundary(
                start, BoundaryKind.NEWS_WINDOW_START, self._calendar.figures_date_of(start), ", ".join(titles)
            )

    def boundaries_after(self, instant: datetime) -> Iterator[Boundary]:
        """Every boundary strictly after ``instant``, in firing order, without end."""
        return heapq.merge(self._calendar_boundaries_after(instant), self._news_boundaries_after(instant), key=_key)

    def news_window_covering(self, instant: datetime, symbol: str) -> NewsWindow | None:
        # Windows are sorted by start; only those starting within one window length before the instant can cover it.
        windows = self.news_windows
        index = bisect_right(self._news_starts, instant)
        earliest_start = instant - self._news_span
        while index > 0:
            index -= 1
            window = windows[index]
            if window.start < earliest_start:
                return None
            if window.covers(instant, symbol):
                return window
        return None
