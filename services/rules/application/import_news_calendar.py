"""ImportNewsCalendar: an admin loads economic releases from CSV; audited. Tier flags say which are restricted.

CSV with a header row: `at,title,instruments,tier`. `at` is ISO 8601 with its UTC offset; `instruments` is `*` for
every instrument or product roots separated by `;` or spaces (`ES;NQ`); `tier` is 1 (high impact), 2 or 3. Events
of the tiers in `restricted_tiers` (default 1) open news windows in rule sets that have a news block. Re-importing
an event (same instant and title) replaces it. A bad row refuses the whole file with the line and the problem.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, PermissionDenied
from libs.domain.instruments import INSTRUMENTS
from services.rules.application.ports import UnitOfWorkFactory

COLUMNS = ("at", "title", "instruments", "tier")
MAX_ROWS = 10_000


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


def parse_calendar(text: str, restricted_tiers: frozenset[int]) -> list[NewsRow]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or tuple(name.strip() for name in reader.fieldnames) != COLUMNS:
        raise InvalidArgument(f"the header must be {','.join(COLUMNS)}", field="csv")
    rows = []
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
        rows.append(NewsRow(at.astimezone(UTC), title, instruments, tier, tier in restricted_tiers))
        if len(rows) > MAX_ROWS:
            raise InvalidArgument(f"at most {MAX_ROWS} events per import", field="csv")
    return rows


class ImportNewsCalendarHandler:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, on_imported: Callable | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._on_imported = on_imported

    async def __call__(self, command: ImportNewsCalendar) -> tuple[int, int]:
        """(events imported, of which restricted)."""
        if command.role != "admin":
            raise PermissionDenied("only admins import the news calendar", reason="PERMISSION_DENIED")
        rows = parse_calendar(command.csv_text, command.restricted_tiers)
        async with self._uow() as uow:
            await uow.store.upsert_news(rows)
            await uow.store.audit(
                AuditEntry(
                    occurred_at=self._clock.now(),
                    actor_id=command.actor_id,
                    actor_role=command.role,
                    ip=command.ip,
                    action="news_calendar.imported",
                    subject_type="news_calendar",
                    subject_id="rules",
                    before=None,
                    after={
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
