"""The CME trading calendar and other day boundaries: trade dates, EOD snapshots, rolls, DST and weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.domain.calendar import (
    BoundaryKind,
    CalendarConfigError,
    TradingCalendar,
    is_trade_date,
    next_trade_date,
    previous_trade_date,
)

CHICAGO = ZoneInfo("America/Chicago")
PRAGUE = ZoneInfo("Europe/Prague")
CME = TradingCalendar.cme()
MIDNIGHT_PRAGUE = TradingCalendar("Europe/Prague", time(0, 0), time(0, 0))


def ct(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=CHICAGO)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_fill_at_tuesday_1730_ct_belongs_to_wednesday() -> None:
    assert CME.trade_date_of(ct(2026, 2, 3, 17, 30)) == date(2026, 2, 4)


def test_the_roll_instant_itself_opens_the_next_trade_date() -> None:
    assert CME.trade_date_of(ct(2026, 2, 3, 16, 59, 59)) == date(2026, 2, 3)
    assert CME.trade_date_of(ct(2026, 2, 3, 17)) == date(2026, 2, 4)


def test_sunday_evening_and_the_weekend_belong_to_monday() -> None:
    monday = date(2026, 2, 9)
    assert CME.trade_date_of(ct(2026, 2, 6, 17)) == monday  # Friday's roll
    assert CME.trade_date_of(ct(2026, 2, 7, 12)) == monday  # Saturday
    assert CME.trade_date_of(ct(2026, 2, 8, 17)) == monday  # Sunday's open
    assert CME.session_open_at(monday) == ct(2026, 2, 8, 17)


def test_activity_after_the_eod_snapshot_counts_toward_the_next_day_figures() -> None:
    assert CME.trade_date_of(ct(2026, 2, 3, 16, 30)) == date(2026, 2, 3)
    assert CME.figures_date_of(ct(2026, 2, 3, 16, 30)) == date(2026, 2, 4)
    assert CME.figures_date_of(ct(2026, 2, 3, 15, 59)) == date(2026, 2, 3)


def test_eod_snapshot_follows_daylight_saving_in_march() -> None:
    # US DST starts Sunday 2026-03-08: 16:00 CT is 22:00 UTC on Friday and 21:00 UTC on Monday.
    assert CME.eod_snapshot_at(date(2026, 3, 6)) == utc(2026, 3, 6, 22)
    assert CME.eod_snapshot_at(date(2026, 3, 9)) == utc(2026, 3, 9, 21)
    assert CME.session_open_at(date(2026, 3, 9)) == utc(2026, 3, 8, 22)
    assert CME.day_roll_at(date(2026, 3, 6)) == utc(2026, 3, 6, 23)


def test_eod_snapshot_follows_daylight_saving_in_november() -> None:
    # US DST ends Sunday 2026-11-01: 16:00 CT is 21:00 UTC on Friday and 22:00 UTC on Monday.
    assert CME.eod_snapshot_at(date(2026, 10, 30)) == utc(2026, 10, 30, 21)
    assert CME.eod_snapshot_at(date(2026, 11, 2)) == utc(2026, 11, 2, 22)
    assert CME.session_open_at(date(2026, 11, 2)) == utc(2026, 11, 1, 23)
    assert CME.trade_date_of(utc(2026, 11, 1, 22, 30)) == date(2026, 11, 2)


def test_a_midnight_boundary_closes_the_calendar_date_that_ends_there() -> None:
    tuesday, wednesday = date(2026, 2, 3), date(2026, 2, 4)
    assert MIDNIGHT_PRAGUE.eod_snapshot_at(tuesday) == datetime(2026, 2, 4, 0, 0, tzinfo=PRAGUE)
    assert MIDNIGHT_PRAGUE.day_roll_at(tuesday) == MIDNIGHT_PRAGUE.eod_snapshot_at(tuesday)
    assert MIDNIGHT_PRAGUE.trade_date_of(datetime(2026, 2, 3, 23, 59, tzinfo=PRAGUE)) == tuesday
    assert MIDNIGHT_PRAGUE.trade_date_of(datetime(2026, 2, 4, 0, 0, tzinfo=PRAGUE)) == wednesday
    assert MIDNIGHT_PRAGUE.session_open_at(wednesday) == datetime(2026, 2, 4, 0, 0, tzinfo=PRAGUE)


def test_after_friday_midnight_the_next_opening_is_monday_midnight() -> None:
    friday, monday = date(2026, 2, 6), date(2026, 2, 9)
    after_friday = MIDNIGHT_PRAGUE.eod_snapshot_at(friday)
    boundaries = MIDNIGHT_PRAGUE.boundaries_after(after_friday)
    first = next(boundaries)
    assert first.kind is BoundaryKind.SESSION_OPEN
    assert first.trade_date == monday
    assert first.at == datetime(2026, 2, 9, 0, 0, tzinfo=PRAGUE)
    assert MIDNIGHT_PRAGUE.trade_date_of(datetime(2026, 2, 7, 12, 0, tzinfo=PRAGUE)) == monday


def test_prague_midnight_follows_european_summer_time() -> None:
    # Europe moves to CEST on 2026-03-29: Monday 00:00 is 23:00 UTC Sunday before, 22:00 UTC after.
    assert MIDNIGHT_PRAGUE.session_open_at(date(2026, 3, 23)) == utc(2026, 3, 22, 23)
    assert MIDNIGHT_PRAGUE.session_open_at(date(2026, 3, 30)) == utc(2026, 3, 29, 22)


def test_boundaries_of_a_week_come_in_firing_order() -> None:
    boundaries = CME.boundaries_after(ct(2026, 2, 5, 12))
    seen = [next(boundaries) for _ in range(6)]
    assert [(b.kind, b.trade_date) for b in seen] == [
        (BoundaryKind.EOD_SNAPSHOT, date(2026, 2, 5)),
        (BoundaryKind.DAY_ROLL, date(2026, 2, 5)),
        (BoundaryKind.SESSION_OPEN, date(2026, 2, 6)),
        (BoundaryKind.EOD_SNAPSHOT, date(2026, 2, 6)),
        (BoundaryKind.DAY_ROLL, date(2026, 2, 6)),
        (BoundaryKind.SESSION_OPEN, date(2026, 2, 9)),
    ]
    assert seen[1].at == seen[2].at == ct(2026, 2, 5, 17)
    assert seen[5].at == ct(2026, 2, 8, 17)
    assert CME.next_boundary_after(ct(2026, 2, 5, 16)).kind is BoundaryKind.DAY_ROLL


def test_weekends_are_never_trade_dates() -> None:
    assert not is_trade_date(date(2026, 2, 7))
    assert not is_trade_date(date(2026, 2, 8))
    assert next_trade_date(date(2026, 2, 6)) == date(2026, 2, 9)
    assert previous_trade_date(date(2026, 2, 9)) == date(2026, 2, 6)


def test_a_snapshot_after_the_roll_or_an_unknown_zone_is_refused() -> None:
    with pytest.raises(CalendarConfigError, match="after day_roll"):
        TradingCalendar("America/Chicago", time(17, 0), time(16, 0))
    with pytest.raises(CalendarConfigError, match="after day_roll"):
        TradingCalendar("Europe/Prague", time(0, 0), time(23, 0))
    with pytest.raises(CalendarConfigError, match="IANA"):
        TradingCalendar("Mars/Olympus", time(16, 0), time(17, 0))


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CME.trade_date_of(datetime(2026, 2, 3, 12, 0))


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
calendars = st.sampled_from([CME, MIDNIGHT_PRAGUE, TradingCalendar("Asia/Tokyo", time(15, 0), time(15, 0))])


@given(instant=instants, calendar=calendars)
def test_every_instant_lies_between_the_previous_roll_and_its_trade_date_roll(
    instant: datetime, calendar: TradingCalendar
) -> None:
    trade_date = calendar.trade_date_of(instant)
    assert is_trade_date(trade_date)
    assert calendar.day_roll_at(previous_trade_date(trade_date)) <= instant < calendar.day_roll_at(trade_date)
    assert calendar.eod_snapshot_at(trade_date) <= calendar.day_roll_at(trade_date)


@given(instant=instants, calendar=calendars, offset_hours=st.integers(min_value=-12, max_value=14))
def test_the_same_instant_in_any_offset_has_the_same_trade_date(
    instant: datetime, calendar: TradingCalendar, offset_hours: int
) -> None:
    from datetime import timezone

    shifted = instant.astimezone(timezone(timedelta(hours=offset_hours)))
    assert calendar.trade_date_of(shifted) == calendar.trade_date_of(instant)
    assert calendar.figures_date_of(shifted) == calendar.figures_date_of(instant)


@given(instant=instants)
def test_cme_snapshots_and_rolls_are_at_1600_and_1700_chicago_wall_time(instant: datetime) -> None:
    trade_date = CME.trade_date_of(instant)
    assert CME.eod_snapshot_at(trade_date).astimezone(CHICAGO).time() == time(16, 0)
    assert CME.day_roll_at(trade_date).astimezone(CHICAGO).time() == time(17, 0)


def test_a_soft_lockout_ends_at_the_roll_closing_its_trade_date_and_a_cme_friday_has_its_own_roll() -> None:
    assert CME.lockout_lifted_at(ct(2026, 2, 3, 9, 5)) == CME.day_roll_at(date(2026, 2, 3))
    assert CME.lockout_lifted_at(ct(2026, 2, 3, 17, 0)) == CME.day_roll_at(date(2026, 2, 4))
    assert CME.lockout_lifted_at(ct(2026, 2, 6, 9, 5)) == ct(2026, 2, 6, 17)  # Friday's roll, not Sunday's open
    assert CME.lockout_lifted_at(ct(2026, 2, 8, 17, 35)) == ct(2026, 2, 9, 17)  # Sunday evening is Monday


def test_with_a_midnight_roll_a_friday_lockout_lasts_until_monday_opens() -> None:
    def prague(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 2, day, hour, minute, tzinfo=PRAGUE)

    assert MIDNIGHT_PRAGUE.lockout_lifted_at(prague(3, 10)) == prague(4, 0)  # Tuesday: its own midnight
    assert MIDNIGHT_PRAGUE.lockout_lifted_at(prague(6, 10)) == prague(9, 0)  # Friday: Monday 00:00
    assert MIDNIGHT_PRAGUE.lockout_lifted_at(prague(7, 10)) == prague(10, 0)  # Saturday counts to Monday
