"""ImportNewsCalendar: an admin loads economic releases from CSV or iCalendar (ICS); audited. Tier flags say which
are restricted.

CSV with a header row: `at,title,instruments,tier`. `at` is ISO 8601 with its UTC offset; `instruments` is `*` for
every instrument or product roots separated by `;` or spaces (`ES;NQ`); `tier` is 1 (high impact), 2 or 3. ICS
(RFC 5545) is read by the parser the composition root injects (services/rules/adapters/news_ics.py; ADR 0066 says
how its events map to these fields). Events of the tiers in `restricted_tiers` (default 1) open news windows in rule
sets that have a news block. Re-importing an event (same instant and title) replaces it; the same event twice in one
file is kept once, and twice with different tiers or instruments is refused. A bad row or event refuses the whole
file with the line or event and the problem: nothing is imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Protocol

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from libs.domain.instruments import INSTRUMENTS
from services.rules.application.ports import UnitOfWorkFactory

COLUMNS = ("at", "title", "instruments", "tier")
MAX_ROWS = 10_000
FORMATS = ("csv", "ics")
# Rows per INSERT: five parameters a row stays under PostgreSQL's 32,767 bind parameters per statement. All chunks
# go in one transaction, so the import stays all or nothing.
UPSERT_CHUNK = 2_000


@dataclass(frozen=True)
class NewsRow:
    at: datetime
    title: str
    instruments: tuple[str, ...] | None  # None: every instrument
    tier: int
    restricted: bool


@dataclass(frozen=True)
class ImportNewsCalendar:
    actor_id: str
    role: str
    ip: str | None
    csv_text: str
    restricted_tiers: frozenset[int] = frozenset({1})
    # "csv" (the default, as before ICS existed) reads csv_text; "ics" reads ics_text. The other must be empty.
    format: str = "csv"
    ics_text: str = ""


class NewsCalendarParser(Protocol):
    """Reads one calendar format into rows, or raises InvalidArgument naming the event and field (nothing kept).

    `now` bounds what the format may expand (an open-ended recurrence) so the same input cannot grow without end.
    """

    def __call__(self, text: str, restricted_tiers: frozenset[int], now: datetime) -> list[NewsRow]: ...


def merge_repeats(labelled: Iterable[tuple[str, NewsRow]], field: str) -> list[NewsRow]:
    """One row per (instant, title), the key the table upserts on: a repeat in one file would make one INSERT touch a
    row twice. An identical repeat (two exports merged) is kept once; a repeat that disagrees is refused, naming
    both places, because either choice would be a guess."""
    first: dict[tuple[datetime, str], tuple[str, NewsRow]] = {}
    for where, row in labelled:
        key = (row.at, row.title)
        seen = first.get(key)
        if seen is None:
            first[key] = (where, row)
        elif seen[1] != row:
            raise InvalidArgument(
                f"{where}: {row.title!r} at {row.at.isoformat()} is also {seen[0]} with another tier or instruments",
                field=field,
            )
    if len(first) > MAX_ROWS:
        raise InvalidArgument(f"at most {MAX_ROWS} events per import, got {len(first)}", field=field)
    return [row for _, row in first.values()]


def parse_calendar(text: str, restricted_tiers: frozenset[int]) -> list[NewsRow]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or tuple(name.strip() for name in reader.fieldnames) != COLUMNS:
        raise InvalidArgument(f"the header must be {','.join(COLUMNS)}", field="csv")
    rows: list[tuple[str, NewsRow]] = []
    for line, raw in enumerate(reader, start=2):
        where = f"line {line}"
        try:
            at = datetime.fromisoformat((raw["at"] or "").strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(f"{where}: at {raw['at']!r} is not an ISO 8601 instant", field="csv") from None
        if at.tzinfo is None:
            raise InvalidArgument(f"{where}: at {raw['at']!r} has no UTC offset", field="csv")
        title = (raw["title"] or "").strip()
        if not title or len(title) > 200:
            raise InvalidArgument(f"{where}: a title of 1 to 200 characters is required", field="csv")
        spec = (raw["instruments"] or "").strip()
        instruments = None
        if spec != "*":
            instruments = tuple(sorted({s for s in spec.replace(";", " ").split() if s}))
            unknown = [s for s in instruments if s not in INSTRUMENTS]
            if not instruments or unknown:
                raise InvalidArgument(
                    f"{where}: instruments must be * or known product roots, got {spec!r}", field="csv"
                )
        tier_text = (raw["tier"] or "").strip()
        if tier_text not in ("1", "2", "3"):
            raise InvalidArgument(f"{where}: tier must be 1, 2 or 3, got {tier_text!r}", field="csv")
        tier = int(tier_text)
        rows.append((where, NewsRow(at.astimezone(UTC), title, instruments, tier, tier in restricted_tiers)))
        if len(rows) > MAX_ROWS:
            raise InvalidArgument(f"at most {MAX_ROWS} events per import", field="csv")
    return merge_repeats(rows, "csv")


class ImportNewsCalendarHandler:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        on_imported: Callable | None = None,
        *,
        ics_parser: NewsCalendarParser | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_imported = on_imported
        self._ics_parser = ics_parser

    def _parse(self, command: ImportNewsCalendar, now: datetime) -> tuple[list[NewsRow], str]:
        """The rows and the text they came from."""
        if command.format not in FORMATS:
            raise InvalidArgument(f"format must be one of {', '.join(FORMATS)}, got {command.format!r}", field="format")
        if command.format == "csv":
            if command.ics_text:
                raise InvalidArgument("ics is set but the format is csv: send the CSV in csv", field="ics")
            return parse_calendar(command.csv_text, command.restricted_tiers), command.csv_text
        if command.csv_text:
            raise InvalidArgument("csv is set but the format is ics: send the calendar in ics", field="csv")
        if not command.ics_text.strip():
            raise InvalidArgument("the ics calendar is empty", field="ics")
        if self._ics_parser is None:
            raise FailedPrecondition("this rules service has no ICS reader configured", reason="NOT_CONFIGURED")
        return self._ics_parser(command.ics_text, command.restricted_tiers, now), command.ics_text

    async def __call__(self, command: ImportNewsCalendar) -> tuple[int, int]:
        """(events imported, of which restricted)."""
        if command.role != "admin":
            raise PermissionDenied("only admins import the news calendar", reason="PERMISSION_DENIED")
        if not command.restricted_tiers <= {1, 2, 3}:
            raise InvalidArgument(
                f"restricted tiers must be among 1, 2 and 3, got {sorted(command.restricted_tiers)}",
                field="restricted_tiers",
            )
        now = self._clock.now()
        rows, text = self._parse(command, now)
        async with self._uow() as uow:
            for start in range(0, len(rows), UPSERT_CHUNK):
                await uow.store.upsert_news(rows[start : start + UPSERT_CHUNK])
            await uow.store.audit(
                AuditEntry(
                    occurred_at=now,
                    actor_id=command.actor_id,
                    actor_role=command.role,
                    ip=command.ip,
                    action="news_calendar.imported",
                    subject_type="news_calendar",
                    subject_id="rules",
                    before=None,
                    after={
                        "format": command.format,
                        "sha256": sha256(text.encode()).hexdigest(),
                        "events": len(rows),
                        "restricted": sum(r.restricted for r in rows),
                        "restricted_tiers": sorted(command.restricted_tiers),
                    },
                )
            )
            await uow.commit()
        if self._on_imported is not None:
            await self._on_imported()
        return len(rows), sum(r.restricted for r in rows)
