"""The boundary schedule: calendar, flat-by and news windows merged in firing order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from libs.domain.rule_set import parse_rule_set
from services.rules.domain.decisions import BoundaryKind
from services.rules.domain.schedule import BoundarySchedule
from services.rules.domain.trade_events import NewsEvent

CHICAGO = ZoneInfo("America/Chicago")
RULES = parse_rule_set(
    {
        "start_balance": "50000",
        "drawdown": {"mode": "static", "max_loss": "2000"},
        "flat_by": {"time": "15:10", "action": "auto_flatten"},
        "news": {"before_seconds": 120, "after_seconds": 60},
    }
)


def ct(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 2, day, hour, minute, second, tzinfo=CHICAGO).astimezone(UTC)


def test_flat_by_news_eod_roll_and_open_come_in_firing_order() -> None:
    news = [NewsEvent(at=ct(5, 15, 12), title="Speech", instruments=None)]
    schedule = BoundarySchedule(RULES, news)
    got = [(b.kind, b.at) for b in islice(schedule.boundaries_after(ct(5, 12)), 6)]
    assert got == [
        (BoundaryKind.FLAT_BY, ct(5, 15, 10)),
        (BoundaryKind.NEWS_WINDOW_START, ct(5, 15, 10)),
        (BoundaryKind.EOD_SNAPSHOT, ct(5, 16)),
        (BoundaryKind.DAY_ROLL, ct(5, 17)),
        (BoundaryKind.SESSION_OPEN, ct(5, 17)),
        (BoundaryKind.FLAT_BY, ct(6, 15, 10)),
    ]


def test_a_news_window_covers_both_ends_and_only_its_instruments() -> None:
    hourly = [
        NewsEvent(at=ct(4, hour, 30), title=f"release {hour}", instruments=frozenset({"ES"})) for hour in range(24)
    ]
    schedule = BoundarySchedule(RULES, hourly)
    assert schedule.news_window_covering(ct(4, 7, 28), "ES") is not None  # T - 120 s
    assert schedule.news_window_covering(ct(4, 7, 31), "ES") is not None  # T + 60 s
    assert schedule.news_window_covering(ct(4, 7, 27, 59), "ES") is None
    assert schedule.news_window_covering(ct(4, 7, 31, 1), "ES") is None
    assert schedule.news_window_covering(ct(4, 7, 30), "NQ") is None
    window = schedule.news_window_covering(ct(4, 23, 30), "ES")
    assert window is not None and window.event.title == "release 23"


def test_without_a_news_rule_the_calendar_is_ignored() -> None:
    rules = parse_rule_set({"start_balance": "50000", "drawdown": {"mode": "static", "max_loss": "2000"}})
    schedule = BoundarySchedule(rules, [NewsEvent(at=ct(4, 7, 30), title="CPI", instruments=None)])
    assert schedule.news_window_covering(ct(4, 7, 30), "ES") is None
    kinds = {b.kind for b in islice(schedule.boundaries_after(ct(4, 0)), 10)}
    assert BoundaryKind.NEWS_WINDOW_START not in kinds and BoundaryKind.FLAT_BY not in kinds


def test_the_schedule_rebuilt_from_any_instant_continues_the_same_sequence() -> None:
    schedule = BoundarySchedule(RULES, [NewsEvent(at=ct(9, 9), title="CPI", instruments=None)])
    sequence = [(b.at, b.kind) for b in islice(schedule.boundaries_after(ct(2, 0)), 40)]
    for at, _ in sequence[:35]:
        first = next(index for index, (other, _) in enumerate(sequence) if other == at)
        resumed = [(b.at, b.kind) for b in islice(schedule.boundaries_after(at - timedelta(microseconds=1)), 5)]
        assert resumed == sequence[first : first + 5]


def test_the_flat_by_period_is_a_property_of_the_instant_up_to_the_next_session_open() -> None:
    schedule = BoundarySchedule(RULES, ())
    assert not schedule.in_flat_by_period(ct(3, 15, 9, 59))
    assert schedule.in_flat_by_period(ct(3, 15, 10))  # the flat-by instant itself
    assert schedule.in_flat_by_period(ct(3, 16, 30))  # the maintenance break
    assert not schedule.in_flat_by_period(ct(3, 17))  # Wednesday's session opens
    assert schedule.in_flat_by_period(ct(6, 15, 10))
    assert schedule.in_flat_by_period(ct(7, 10))  # Saturday, under Friday's flat-by
    assert schedule.in_flat_by_period(ct(8, 16, 59, 59))
    assert not schedule.in_flat_by_period(ct(8, 17))  # Sunday 17:00 opens Monday


def test_without_a_flat_by_rule_no_instant_is_in_a_flat_by_period() -> None:
    rules = parse_rule_set({"start_balance": "50000", "drawdown": {"mode": "static", "max_loss": "2000"}})
    assert not BoundarySchedule(rules, ()).in_flat_by_period(ct(7, 10))
