"""Reads an iCalendar (RFC 5545) news calendar into the import's rows (ImportNewsCalendar, ADR 0066).

Each VEVENT is one release:
- DTSTART is the release instant. UTC (`Z`) and TZID times are taken as they are (an IANA zone name, or a VTIMEZONE in
  the file); a floating time (neither) is read in the calendar's X-WR-TIMEZONE when it names an IANA zone, and refused
  otherwise: guessing a zone would open the news window hours away from the release. A date without a time (an
  all-day event) is refused: a news window needs an instant.
- SUMMARY is the title (1 to 200 characters).
- The tier is X-DYNASTY-TIER (1, 2 or 3) when present: the firm's own call overrides an export's. Otherwise it comes
  from CATEGORIES: `TIER-1`..`TIER-3`, or the impact words economic-calendar exports use (`High`, `Medium`, `Low`,
  alone or followed by `Impact`), case-insensitive; other categories (currencies, countries) are ignored. No tier, an
  unknown one, or two different ones is refused.
- The instruments are X-DYNASTY-INSTRUMENTS: `*` or product roots separated by `;`, `,` or spaces. Without it the
  release restricts every instrument (a third-party export names currencies, not our products, and a news rule
  that restricts too much is the safe side).
- STATUS:CANCELLED events are not releases and are left out.
- A recurring event (RRULE, RDATE, with EXDATE and RECURRENCE-ID overrides honoured) is expanded from its start to
  one year past the later of its start and the import; rules more frequent than daily are refused.
Any problem refuses the whole calendar with INVALID_ARGUMENT naming the event (its number, line and UID) and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import x_wr_timezone

from libs.domain.errors import InvalidArgument
from libs.domain.instruments import INSTRUMENTS
from services.rules.application.import_news_calendar import MAX_ROWS, NewsRow, merge_repeats

FIELD = "ics"
TIER_PROPERTY = "X-DYNASTY-TIER"
INSTRUMENTS_PROPERTY = "X-DYNASTY-INSTRUMENTS"
HORIZON = timedelta(days=366)
TOO_FREQUENT = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
_TIER_WORDS = {"HIGH": 1, "MEDIUM": 2, "LOW": 3}
_TIER_CATEGORY = re.compile(r"^TIER[-_ ]?(\S+)$")
_IMPACT_CATEGORY = re.compile(r"^(HIGH|MEDIUM|LOW)(?:[-_ ]IMPACT(?: EXPECTED)?)?$")


def parse_ics_calendar(text: str, restricted_tiers: frozenset[int], now: datetime) -> list[NewsRow]:
    text = text.lstrip("\ufeff")  # a byte-order mark some exporters write is not part of the first content line
    calendar = _calendar(text)
    events = list(calendar.walk("VEVENT"))
    lines = _vevent_lines(text)
    labels = [_label(index, lines, event) for index, event in enumerate(events, start=1)]
    _refuse_unreadable(calendar, labels, events)
    zone_name = _wr_timezone(calendar)
    recurring_uids = {str(e.get("UID")) for e in events if e.get("UID") is not None and _recurs(e)}
    for label, event in zip(labels, events, strict=True):
        if not _cancelled(event):
            _check(event, label, zone_name)

    # Floating times become times in X-WR-TIMEZONE (and UTC ones the same instants written in it, so a weekly
    # release keeps its local hour across a DST change, as the exporting calendar meant).
    standard = x_wr_timezone.to_standard(calendar) if zone_name else calendar
    standard_events = list(standard.walk("VEVENT"))
    labelled: list[tuple[str, NewsRow]] = []
    series: dict[str, list[tuple[str, icalendar.Event]]] = {}
    for label, event in zip(labels, standard_events, strict=True):
        uid = event.get("UID")
        if uid is not None and str(uid) in recurring_uids:
            series.setdefault(str(uid), []).append((label, event))
        elif _recurs(event):  # a recurring event without a UID is a series of its own
            series[f"#{label}"] = [(label, event)]
        elif not _cancelled(event):
            labelled.append((label, _row(event, label, restricted_tiers)))
    for members in series.values():
        labelled.extend(_expand(standard, members, restricted_tiers, now, MAX_ROWS - len(labelled)))
        if len(labelled) > MAX_ROWS:
            raise InvalidArgument(f"at most {MAX_ROWS} events per import (recurrences included)", field=FIELD)
    if not labelled:
        raise InvalidArgument("the calendar has no release to import (no VEVENT, or every one cancelled)", field=FIELD)
    return merge_repeats(labelled, FIELD)


def _calendar(text: str) -> icalendar.Calendar:
    if not text.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCALENDAR"):
        raise InvalidArgument("not an iCalendar (RFC 5545) calendar: it must begin with BEGIN:VCALENDAR", field=FIELD)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise InvalidArgument(f"not an iCalendar (RFC 5545) calendar: {exc}", field=FIELD) from None
    if calendar.name != "VCALENDAR":
        raise InvalidArgument(f"the calendar must be a VCALENDAR, not a {calendar.name}", field=FIELD)
    return calendar


def _refuse_unreadable(calendar: icalendar.Calendar, labels: list[str], events: list[icalendar.Event]) -> None:
    """icalendar keeps going past a value it cannot read and notes it on the component; the import refuses."""
    for name, problem in calendar.errors:
        raise InvalidArgument(f"the calendar: {name} cannot be read: {problem}", field=FIELD)
    for component in calendar.subcomponents:
        if component.name != "VEVENT":
            for sub in component.walk():
                for name, problem in sub.errors:
                    where = f"{component.name} {component.get('TZID', component.get('UID', ''))}".strip()
                    raise InvalidArgument(f"{where}: {name} cannot be read: {problem}", field=FIELD)
    for label, event in zip(labels, events, strict=True):
        for sub in event.walk():
            for name, problem in sub.errors:
                inside = "" if sub is event else f" (in its {sub.name})"
                raise InvalidArgument(f"{label}: {name}{inside} cannot be read: {problem}", field=FIELD)


def _wr_timezone(calendar: icalendar.Calendar) -> str | None:
    name = calendar.get("X-WR-TIMEZONE")
    if name is None:
        return None
    name = str(name).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"X-WR-TIMEZONE {name!r} is not an IANA time zone", field=FIELD) from None
    return name


def _vevent_lines(text: str) -> list[int]:
    # icalendar does not keep positions; BEGIN lines are never folded, so counting them finds each event's line.
    return [number for number, line in enumerate(text.splitlines(), start=1) if line.strip().upper() == "BEGIN:VEVENT"]


def _label(index: int, lines: list[int], event: icalendar.Event) -> str:
    line = f", line {lines[index - 1]}" if index <= len(lines) else ""
    uid = event.get("UID")
    return f"event {index}{line}" + (f" (UID {uid})" if uid is not None else "")


def _recurs(event: icalendar.Event) -> bool:
    return any(event.get(name) is not None for name in ("RRULE", "RDATE", "RECURRENCE-ID"))


def _cancelled(event: icalendar.Event) -> bool:
    return str(event.get("STATUS", "")).upper() == "CANCELLED"


def _check(event: icalendar.Event, label: str, zone_name: str | None) -> None:
    """Everything that can be wrong with one event, found before anything is expanded."""
    prop = event.get("DTSTART")
    if prop is None:
        raise InvalidArgument(f"{label}: DTSTART is missing", field=FIELD)
    start = prop.dt
    if not isinstance(start, datetime):
        if isinstance(start, date):
            raise InvalidArgument(
                f"{label}: DTSTART {start.isoformat()} is a date without a time (an all-day event); a release needs "
                "its instant",
                field=FIELD,
            )
        raise InvalidArgument(f"{label}: DTSTART must be a date-time, got {start!r}", field=FIELD)
    if start.tzinfo is None:
        tzid = prop.params.get("TZID")
        if tzid:
            raise InvalidArgument(
                f"{label}: DTSTART's TZID {tzid!r} is neither an IANA time zone nor a VTIMEZONE in the calendar",
                field=FIELD,
            )
        if zone_name is None:
            raise InvalidArgument(
                f"{label}: DTSTART {start.isoformat()} is a floating time (no Z, no TZID) and the calendar has no "
                "X-WR-TIMEZONE to read it in",
                field=FIELD,
            )
    rule = event.get("RRULE")
    if rule is not None:
        rules = rule if isinstance(rule, list) else [rule]
        for one in rules:
            frequency = str((one.get("FREQ") or ["?"])[0]).upper()
            if frequency in TOO_FREQUENT:
                raise InvalidArgument(
                    f"{label}: RRULE FREQ={frequency} is more frequent than daily; a news calendar has none",
                    field=FIELD,
                )
    _title(event, label)
    _tier(event, label)
    _instruments(event, label)


def _title(event: icalendar.Event, label: str) -> str:
    title = str(event.get("SUMMARY", "")).strip()
    if not title or len(title) > 200:
        raise InvalidArgument(f"{label}: SUMMARY of 1 to 200 characters is required", field=FIELD)
    return title


def _categories(event: icalendar.Event) -> Iterator[str]:
    found = event.get("CATEGORIES")
    if found is None:
        return
    for group in found if isinstance(found, list) else [found]:
        for value in getattr(group, "cats", [group]):
            text = str(value).strip()
            if text:
                yield text


def _tier(event: icalendar.Event, label: str) -> int:
    explicit = event.get(TIER_PROPERTY)
    if explicit is not None:
        value = str(explicit).strip()
        if value not in ("1", "2", "3"):
            raise InvalidArgument(f"{label}: {TIER_PROPERTY} must be 1, 2 or 3, got {value!r}", field=FIELD)
        return int(value)
    tiers: dict[int, str] = {}
    for category in _categories(event):
        upper = " ".join(category.upper().split())
        named = _TIER_CATEGORY.match(upper)
        if named:
            if named.group(1) not in ("1", "2", "3"):
                raise InvalidArgument(f"{label}: CATEGORIES tier {category!r} is not TIER-1, 2 or 3", field=FIELD)
            tiers.setdefault(int(named.group(1)), category)
            continue
        impact = _IMPACT_CATEGORY.match(upper)
        if impact:
            tiers.setdefault(_TIER_WORDS[impact.group(1)], category)
    if not tiers:
        raise InvalidArgument(
            f"{label}: no tier: set {TIER_PROPERTY}:1|2|3 or a CATEGORIES tier (TIER-1..3, High/Medium/Low Impact)",
            field=FIELD,
        )
    if len(tiers) > 1:
        raise InvalidArgument(
            f"{label}: CATEGORIES give two tiers ({', '.join(repr(c) for c in tiers.values())})", field=FIELD
        )
    return next(iter(tiers))


def _instruments(event: icalendar.Event, label: str) -> tuple[str, ...] | None:
    spec_prop = event.get(INSTRUMENTS_PROPERTY)
    if spec_prop is None:
        return None
    spec = str(spec_prop).strip()
    if spec == "*":
        return None
    roots = tuple(sorted({s.upper() for s in re.split(r"[;,\s]+", spec) if s}))
    unknown = [s for s in roots if s not in INSTRUMENTS]
    if not roots or unknown:
        raise InvalidArgument(
            f"{label}: {INSTRUMENTS_PROPERTY} must be * or known product roots, got {spec!r}", field=FIELD
        )
    return roots


def _row(event: icalendar.Event, label: str, restricted_tiers: frozenset[int]) -> NewsRow:
    tier = _tier(event, label)
    return NewsRow(
        at=event.get("DTSTART").dt.astimezone(UTC),
        title=_title(event, label),
        instruments=_instruments(event, label),
        tier=tier,
        restricted=tier in restricted_tiers,
    )


def _expand(
    calendar: icalendar.Calendar,
    members: list[tuple[str, icalendar.Event]],
    restricted_tiers: frozenset[int],
    now: datetime,
    budget: int,
) -> list[tuple[str, NewsRow]]:
    """The occurrences of one series (its master and overrides) up to the horizon, at most `budget` + 1 of them."""
    label = members[0][0]
    one = icalendar.Calendar()
    for timezone in calendar.walk("VTIMEZONE"):
        one.add_component(timezone)
    starts = []
    for _, event in members:
        one.add_component(event)
        start = event.get("DTSTART").dt
        if isinstance(start, datetime) and start.tzinfo is not None:
            starts.append(start)
    begins = min(starts, default=now)
    end = max(now, begins) + HORIZON
    first = begins - timedelta(days=1)
    rows: list[tuple[str, NewsRow]] = []
    occurred = False
    query = recurring_ical_events.of(one)
    cursor = first
    try:
        # A year at a time: between() is far quicker than the lazy after(), and stopping once the budget is spent
        # keeps an open-ended daily rule from a distant start cheap to refuse.
        while cursor < end and len(rows) <= budget:
            stop = min(cursor + HORIZON, end)
            occurrences = sorted(query.between(cursor, stop), key=lambda o: o.get("DTSTART").dt)
            for occurrence in occurrences:
                at = occurrence.get("DTSTART").dt
                if not cursor <= at < stop:  # a long event overlaps two windows
                    continue
                occurred = True
                if _cancelled(occurrence):
                    continue
                where = f"{label}, occurrence at {at.isoformat()}"
                rows.append((where, _row(occurrence, where, restricted_tiers)))
            cursor = stop
    except InvalidArgument:
        raise
    except Exception as exc:  # the library's own refusals (a broken RRULE, an override of nothing) name no event
        raise InvalidArgument(f"{label}: its recurrence cannot be expanded: {exc}", field=FIELD) from None
    if not occurred:
        # Not even DTSTART itself: an UNTIL before the start, or every instance excluded. Surely not what was meant.
        raise InvalidArgument(
            f"{label}: its recurrence gives no occurrence (UNTIL before DTSTART, or every instance excluded)",
            field=FIELD,
        )
    return rows
