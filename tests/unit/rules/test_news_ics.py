"""The iCalendar reader of the news calendar import (ADR 0066): what each VEVENT becomes, and how a bad one is refused
naming the event, its line and the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from libs.domain.errors import InvalidArgument
from services.rules.adapters.news_ics import parse_ics_calendar
from services.rules.application.import_news_calendar import MAX_ROWS, NewsRow, parse_calendar

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "news" / "economic_calendar.ics"
NOW = datetime(2027, 2, 26, 12, 0, tzinfo=UTC)
TIER_1 = frozenset({1})


def calendar(*events: str, header: str = "") -> str:
    """A minimal VCALENDAR around the given VEVENT bodies, CRLF as RFC 5545 writes it."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//news//EN"]
    lines += [h for h in header.splitlines() if h.strip()]
    for body in events:
        lines += ["BEGIN:VEVENT", *[b.strip() for b in body.strip().splitlines()], "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def event(uid: str = "e1@test", start: str = "DTSTART:20270305T133000Z", **props: str) -> str:
    body = [f"UID:{uid}", start, f"SUMMARY:{props.pop('summary', 'USD - CPI m/m')}"]
    body += [f"{name.replace('_', '-').upper()}:{value}" for name, value in props.items()]
    return "\n".join(body)


def refused(text: str) -> str:
    with pytest.raises(InvalidArgument) as error:
        parse_ics_calendar(text, TIER_1, NOW)
    assert error.value.field == "ics"
    return error.value.message


def by_time(rows: list[NewsRow]) -> list[tuple[str, str, tuple[str, ...] | None, int, bool]]:
    return [(r.at.isoformat(), r.title, r.instruments, r.tier, r.restricted) for r in sorted(rows, key=lambda r: r.at)]


def test_an_economic_calendar_export_becomes_its_releases_in_utc_with_tiers_and_instruments():
    rows = parse_ics_calendar(FIXTURE.read_text(), TIER_1, NOW)

    assert by_time(rows) == [
        # Weekly claims: 08:30 in the file's own VTIMEZONE (EST), the 18th taken out by EXDATE.
        ("2027-03-04T13:30:00+00:00", "USD - Unemployment Claims", ("ES", "NQ"), 2, False),
        ("2027-03-05T13:30:00+00:00", "USD - Non-Farm Employment Change", None, 1, True),
        ("2027-03-05T13:30:00+00:00", "USD - Unemployment Rate", None, 1, True),
        # A floating time, read in X-WR-TIMEZONE (America/New_York, still EST on the 10th).
        ("2027-03-10T15:30:00+00:00", "USD - Crude Oil Inventories", ("CL",), 3, False),
        ("2027-03-11T13:30:00+00:00", "USD - Unemployment Claims", ("ES", "NQ"), 2, False),
        # UTC; the tier from a second CATEGORIES line; instruments from X-DYNASTY-INSTRUMENTS.
        (
            "2027-03-17T18:00:00+00:00",
            "USD - FOMC Statement and Federal Funds Rate",
            ("CL", "ES", "GC", "NQ", "RTY", "YM", "ZB", "ZN"),
            1,
            True,
        ),
        # An IANA TZID; X-DYNASTY-TIER overrides the export's Medium.
        ("2027-03-18T12:00:00+00:00", "GBP - Official Bank Rate", None, 1, True),
        # The 25th moved by a RECURRENCE-ID override to 10:00 EDT (after the DST change).
        ("2027-03-25T14:00:00+00:00", "USD - Unemployment Claims (delayed)", ("ES", "NQ"), 2, False),
    ]


def test_the_restricted_tiers_decide_which_releases_restrict():
    rows = parse_ics_calendar(FIXTURE.read_text(), frozenset({1, 2}), NOW)

    assert {r.title: r.restricted for r in rows} == {
        "USD - Unemployment Claims": True,
        "USD - Non-Farm Employment Change": True,
        "USD - Unemployment Rate": True,
        "USD - Crude Oil Inventories": False,
        "USD - FOMC Statement and Federal Funds Rate": True,
        "GBP - Official Bank Rate": True,
        "USD - Unemployment Claims (delayed)": True,
    }


def test_a_weekly_release_keeps_its_local_hour_across_the_dst_change():
    text = calendar(
        event(start="DTSTART;TZID=America/New_York:20270304T083000", rrule="FREQ=WEEKLY;COUNT=3", categories="Low")
    )

    rows = parse_ics_calendar(text, TIER_1, NOW)

    assert [r.at.isoformat() for r in sorted(rows, key=lambda r: r.at)] == [
        "2027-03-04T13:30:00+00:00",
        "2027-03-11T13:30:00+00:00",
        "2027-03-18T12:30:00+00:00",
    ]


def test_an_open_ended_recurrence_is_expanded_one_year_past_the_import():
    text = calendar(event(start="DTSTART:20270101T133000Z", rrule="FREQ=MONTHLY", categories="TIER-2"))

    rows = parse_ics_calendar(text, TIER_1, NOW)

    # Monthly from January 2027 up to 2028-02-27 (a year and a day after NOW): 14 releases.
    assert len(rows) == 14
    assert min(r.at for r in rows) == datetime(2027, 1, 1, 13, 30, tzinfo=UTC)
    assert max(r.at for r in rows) == datetime(2028, 2, 1, 13, 30, tzinfo=UTC)


def test_a_series_starting_beyond_the_horizon_still_gets_its_first_year():
    text = calendar(event(start="DTSTART:20300101T133000Z", rrule="FREQ=YEARLY", categories="TIER-3"))

    rows = parse_ics_calendar(text, TIER_1, NOW)

    assert [r.at.year for r in sorted(rows, key=lambda r: r.at)] == [2030, 2031]


def test_a_cancelled_release_is_left_out_and_needs_no_tier():
    text = calendar(event("a@x", categories="High"), event("b@x", summary="Gone", status="CANCELLED"))

    rows = parse_ics_calendar(text, TIER_1, NOW)

    assert [r.title for r in rows] == ["USD - CPI m/m"]


def test_the_same_release_twice_is_kept_once_and_twice_with_another_tier_is_refused():
    same = calendar(event("a@x", categories="High"), event("b@x", categories="High Impact"))
    assert len(parse_ics_calendar(same, TIER_1, NOW)) == 1

    message = refused(calendar(event("a@x", categories="High"), event("b@x", categories="Low")))
    assert "event 2, line 10 (UID b@x)" in message and "event 1, line 4 (UID a@x)" in message


@pytest.mark.parametrize(
    ("categories", "tier"),
    [("TIER-1", 1), ("tier-2", 2), ("USD,Low Impact Expected", 3), ("EUR,MEDIUM", 2), ("High Impact", 1)],
)
def test_the_tier_is_read_from_categories(categories, tier):
    rows = parse_ics_calendar(calendar(event(categories=categories)), TIER_1, NOW)

    assert [(r.tier, r.restricted) for r in rows] == [(tier, tier == 1)]


def test_instruments_default_to_every_instrument_and_accept_star_and_lists():
    text = calendar(
        event("a@x", summary="A", categories="High"),
        event("b@x", summary="B", categories="High", x_dynasty_instruments="*"),
        event("c@x", summary="C", categories="High", x_dynasty_instruments="nq es"),
    )

    rows = {r.title: r.instruments for r in parse_ics_calendar(text, TIER_1, NOW)}

    assert rows == {"A": None, "B": None, "C": ("ES", "NQ")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at,title,instruments,tier\n", "must begin with BEGIN:VCALENDAR"),
        ("BEGIN:VCALENDAR\r\nthis is not a content line\r\nEND:VCALENDAR\r\n", "not an iCalendar"),
        (calendar(), "no VEVENT"),
        (calendar(event(categories="High"), header="X-WR-TIMEZONE:Mars/Olympus"), "X-WR-TIMEZONE 'Mars/Olympus'"),
        (calendar("UID:n@x\nSUMMARY:No start\nCATEGORIES:High"), "event 1, line 4 (UID n@x): DTSTART is missing"),
        (
            calendar(event(start="DTSTART:notadate", categories="High")),
            "event 1, line 4 (UID e1@test): DTSTART cannot be read",
        ),
        (
            calendar(event(categories="High", rrule="FREQ=SOMETIMES")),
            "event 1, line 4 (UID e1@test): RRULE cannot be read",
        ),
        (
            calendar(event(categories="High", rrule="FREQ=WEEKLY;UNTIL=20260101T000000Z")),
            "event 1, line 4 (UID e1@test): its recurrence gives no occurrence",
        ),
        (calendar(event(categories="High", status="CANCELLED")), "no release to import"),
        (
            calendar(event(start="DTSTART;VALUE=DATE:20270305", categories="High")),
            "event 1, line 4 (UID e1@test): DTSTART 2027-03-05 is a date without a time",
        ),
        (
            calendar(event(start="DTSTART:20270305T083000", categories="High")),
            "DTSTART 2027-03-05T08:30:00 is a floating time",
        ),
        (
            calendar(event(start="DTSTART;TZID=Mars/Olympus:20270305T083000", categories="High")),
            "DTSTART's TZID 'Mars/Olympus' is neither",
        ),
        (calendar(event(categories="USD")), "event 1, line 4 (UID e1@test): no tier"),
        (calendar(event(x_dynasty_tier="7")), "X-DYNASTY-TIER must be 1, 2 or 3, got '7'"),
        (calendar(event(categories="TIER-4")), "CATEGORIES tier 'TIER-4' is not TIER-1, 2 or 3"),
        (calendar(event(categories="High,Low")), "CATEGORIES give two tiers"),
        (calendar(event(categories="High", x_dynasty_instruments="ES;XYZ")), "X-DYNASTY-INSTRUMENTS must be"),
        (calendar(event(summary=" ", categories="High")), "SUMMARY of 1 to 200 characters"),
        (calendar(event(categories="High", rrule="FREQ=HOURLY;COUNT=3")), "FREQ=HOURLY is more frequent than daily"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_event_and_field(text, expected):
    assert expected in refused(text)


def test_a_byte_order_mark_and_bare_line_feeds_are_read_like_the_standard_form():
    text = "\ufeff" + calendar(event(categories="High")).replace("\r\n", "\n")

    assert [r.title for r in parse_ics_calendar(text, TIER_1, NOW)] == ["USD - CPI m/m"]


def test_a_bad_event_after_good_ones_refuses_the_whole_calendar_naming_its_line():
    good = [event(f"g{i}@x", summary=f"Release {i}", categories="High") for i in range(3)]
    text = calendar(*good, event("bad@x", summary="Bad", categories="Urgent"))

    message = refused(text)

    # Each VEVENT of calendar() here takes 6 lines after the 3-line header: the fourth begins on line 22.
    assert message.startswith("event 4, line 22 (UID bad@x): no tier")


def test_a_recurrence_that_would_exceed_the_import_limit_is_refused():
    text = calendar(event(start="DTSTART:19900101T133000Z", rrule="FREQ=DAILY", categories="Low"))

    assert f"at most {MAX_ROWS} events" in refused(text)


def test_csv_repeats_are_kept_once_or_refused_with_both_lines():
    row = "2027-03-05T13:30:00Z,CPI,ES,1"
    assert len(parse_calendar(f"at,title,instruments,tier\n{row}\n{row}\n", TIER_1)) == 1

    with pytest.raises(InvalidArgument) as error:
        parse_calendar(f"at,title,instruments,tier\n{row}\n2027-03-05T13:30:00Z,CPI,NQ,1\n", TIER_1)
    assert "line 3" in error.value.message and "line 2" in error.value.message
