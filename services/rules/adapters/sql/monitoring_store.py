"""The rules schema behind the monitoring use cases, on one session (one transaction).

Per-account serialisation: every writer of an account's risk state first takes a row lock on the account's
monitored_accounts row (SELECT ... FOR UPDATE), so two events of one account never interleave while events of
different accounts proceed in parallel; a quote locks the accounts it moves in account-id order, so two quotes
never deadlock each other.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import (
    String,
    any_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.audit import AuditEntry
from libs.platform import outbox
from libs.platform.audit import SqlAlchemyAuditLog
from libs.platform.db import to_json
from services.rules.adapters.sql.tables import (
    SCHEMA,
    enforcement_jobs,
    excluded_events,
    monitored_accounts,
    news_events,
    quarantined_events,
    risk_snapshots,
    risk_states,
    trade_events,
    violations,
)
from services.rules.adapters.yourpropfirm.envelopes import stored_fill_or_marks
from services.rules.application.incoming import IncomingEvent
from services.rules.application.integration_events import EVENT_ROUTES
from services.rules.application.monitored_account import MONITORING, MonitoredAccount
from services.rules.application.risk_runner import StoredEvent
from services.rules.domain.trade_events import TimePassed


def _account(row) -> MonitoredAccount:
    return MonitoredAccount(
        account_id=row["account_id"],
        platform_account_id=row["platform_account_id"],
        user_id=row["user_id"],
        program_id=row["program_id"],
        phase=row["phase"],
        attempt=row["attempt"],
        rule_set=row["rule_set"],
        status=row["status"],
        snapshot=row["snapshot"],
        last_event_at=row["last_event_at"],
        last_event_row=row["last_event_row"],
        saved_event_at=row["saved_event_at"],
        saved_event_row=row["saved_event_row"],
        state_version=row["state_version"] or 0,
        held_symbols=tuple(row["held_symbols"] or ()),
    )


def _joined(*, with_snapshot: bool = True, with_rule_set: bool = True):
    m, s = monitored_accounts, risk_states
    columns = [
        s.c.last_event_at,
        s.c.last_event_row,
        s.c.saved_event_at,
        s.c.saved_event_row,
        s.c.state_version,
        s.c.held_symbols,
    ]
    snapshot = s.c.snapshot if with_snapshot else literal_column("NULL::jsonb").label("snapshot")
    account = [c for c in m.c if with_rule_set or c.name != "rule_set"]
    if not with_rule_set:
        account.append(literal_column("NULL::jsonb").label("rule_set"))
    return select(*account, snapshot, *columns).select_from(m.outerjoin(s, s.c.account_id == m.c.account_id))


_STORE_EVENTS = text(
    """
    INSERT INTO rules.trade_events (provider_event_id, event_type, platform_account_id, account_id,
        exchange_at, sequence, symbols, payload, payload_sha256, outcome)
    SELECT u.provider_event_id, u.event_type, u.platform_account_id, u.account_id, u.exchange_at,
        u.sequence, string_to_array(u.symbols, ','), u.payload::jsonb, u.payload_sha256, u.outcome
    FROM unnest(CAST(:ids AS text[]), CAST(:types AS text[]), CAST(:platform AS text[]),
        CAST(:accounts AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:sequences AS bigint[]),
        CAST(:symbols AS text[]), CAST(:payloads AS text[]), CAST(:hashes AS text[]),
        CAST(:outcomes AS text[]))
        WITH ORDINALITY AS u(provider_event_id, event_type, platform_account_id, account_id, exchange_at,
            sequence, symbols, payload, payload_sha256, outcome, ord)
    ORDER BY u.ord
    ON CONFLICT (provider_event_id) DO NOTHING
    RETURNING provider_event_id, id
    """
)
_SAVE_STATES = text(
    """
    UPDATE rules.risk_states AS s SET snapshot = u.snapshot::jsonb, engine_status = u.engine_status,
        held_symbols = string_to_array(u.held, ','), last_event_at = u.last_at,
        last_event_row = u.last_row, saved_event_at = u.last_at, saved_event_row = u.last_row,
        next_boundary_at = u.next_boundary, state_version = s.state_version + 1, updated_at = now()
    FROM unnest(CAST(:accounts AS uuid[]), CAST(:snapshots AS text[]), CAST(:statuses AS text[]),
        CAST(:held AS text[]), CAST(:last_ats AS timestamptz[]), CAST(:last_rows AS bigint[]),
        CAST(:boundaries AS timestamptz[]))
        AS u(account_id, snapshot, engine_status, held, last_at, last_row, next_boundary)
    WHERE s.account_id = u.account_id
    """
)
_ADD_SNAPSHOTS = text(
    """
    INSERT INTO rules.risk_snapshots (account_id, attempt, after_event_at, after_event_row, snapshot)
    SELECT u.account_id, u.attempt, u.at, u.row_id, u.snapshot::jsonb
    FROM unnest(CAST(:accounts AS uuid[]), CAST(:attempts AS int[]), CAST(:ats AS timestamptz[]),
        CAST(:rows AS bigint[]), CAST(:snapshots AS text[])) AS u(account_id, attempt, at, row_id, snapshot)
    """
)
_ADVANCE_CURSORS = text(
    """
    INSERT INTO rules.quote_cursors AS c (symbol, quote_at, quote_row, writes)
    SELECT u.*, 1 FROM unnest(CAST(:symbols AS text[]), CAST(:ats AS timestamptz[]), CAST(:rows AS bigint[])) AS u
    ON CONFLICT (symbol) DO UPDATE SET
        -- (every right-hand side reads the row as it was: the second test sees the old cursor too)
        quote_at = CASE WHEN c.quote_row IS NULL OR (excluded.quote_at, excluded.quote_row) > (c.quote_at, c.quote_row)
            THEN excluded.quote_at ELSE c.quote_at END,
        quote_row = CASE WHEN c.quote_row IS NULL OR (excluded.quote_at, excluded.quote_row) > (c.quote_at, c.quote_row)
            THEN excluded.quote_row ELSE c.quote_row END,
        writes = c.writes + 1
    RETURNING symbol, writes
    """
)
# The accounts a batch's account events name, and those that traded a quoted symbol after the batch's earliest quote
# (a late quote re-evaluates them), locked in account-id order. A UNION of index lookups (platform id, trades by
# time), not one OR over the join, which PostgreSQL can only answer by scanning every account. With no quote, :since
# is NULL and the second lookup finds nothing.
_LOCK_BATCH = text(
    """
    SELECT m.account_id, m.platform_account_id, m.user_id, m.program_id, m.phase, m.attempt, NULL AS rule_set,
        m.status, NULL AS snapshot, s.last_event_at, s.last_event_row, s.saved_event_at, s.saved_event_row,
        s.state_version, s.held_symbols
    FROM rules.monitored_accounts AS m LEFT JOIN rules.risk_states AS s ON s.account_id = m.account_id
    WHERE m.account_id IN (
            SELECT account_id FROM rules.monitored_accounts WHERE platform_account_id = ANY(CAST(:named AS text[]))
            UNION
            SELECT account_id FROM rules.trade_events
            WHERE event_type = 'trade' AND outcome = 'applied' AND exchange_at > :since
                AND symbols && CAST(:symbols AS varchar(16)[])
            UNION
            -- Flat now, saved after the quote: a position the engine liquidated after it (a breach) was held then.
            SELECT account_id FROM rules.risk_states WHERE held_symbols = '{}' AND saved_event_at > :since
        )
        AND (m.platform_account_id = ANY(CAST(:named AS text[])) OR m.status = 'monitoring')
    ORDER BY m.account_id
    FOR UPDATE OF m
    """
)
_LOAD_SNAPSHOTS = text(
    """
    SELECT s.account_id, s.snapshot, m.rule_set
    FROM rules.risk_states AS s JOIN rules.monitored_accounts AS m ON m.account_id = s.account_id
    WHERE s.account_id = ANY(CAST(:ids AS uuid[]))
    """
)
_CHANGED_STATES = text(
    """
    SELECT s.account_id, m.platform_account_id, m.user_id, m.program_id, m.phase, m.attempt, NULL AS rule_set, m.status,
        NULL AS snapshot, s.last_event_at, s.last_event_row, s.saved_event_at, s.saved_event_row, s.state_version,
        s.held_symbols, s.change_seq
    FROM rules.risk_states AS s JOIN rules.monitored_accounts AS m ON m.account_id = s.account_id
    WHERE s.change_seq > :after
    """
)
_CURSORS = text(
    "SELECT symbol, quote_at, quote_row FROM rules.quote_cursors WHERE symbol = ANY(CAST(:symbols AS text[])) "
    "ORDER BY symbol"
)
_ALL_CURSORS = text("SELECT symbol, quote_at, quote_row, writes FROM rules.quote_cursors ORDER BY symbol FOR UPDATE")
# The symbols known to have a cursor row (rows are never deleted): a quote of one of them needs no insert first.
_CURSOR_ROWS: set[str] = set()
_SHARED_CURSORS = text(
    "SELECT symbol, quote_at, quote_row FROM rules.quote_cursors WHERE symbol = ANY(CAST(:symbols AS text[])) "
    "ORDER BY symbol FOR SHARE"
)


def _texts(values: list[str]):
    # One array parameter (= ANY), not one parameter per value: one prepared statement whatever the batch's size.
    return bindparam(None, list(values), type_=ARRAY(String))


def _uuids(values: list[uuid.UUID]):
    return bindparam(None, list(values), type_=ARRAY(UUID(as_uuid=True)))


def jsonable(value) -> object:
    """JSON-ready evidence: to_json's decimals-as-strings, and dates (a boundary's trade date) in ISO form."""
    return json.loads(
        json.dumps(to_json(value), default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))
    )


class SqlMonitoringStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._encoded: dict[int, tuple[dict, str]] = {}  # snapshots encoded in this unit of work (_json)

    # -- accounts -----------------------------------------------------------------------------------------------
    async def get_account(self, account_id: uuid.UUID, *, for_update: bool = False) -> MonitoredAccount | None:
        where = monitored_accounts.c.account_id == account_id
        if for_update:
            return await self._lock_one(where)
        row = (await self.session.execute(_joined().where(where))).mappings().first()
        if row is None:
            return None
        account = _account(row)
        account.stand_behind(await self.quote_cursors(account.held_symbols))
        return account

    async def lock_by_platform_id(
        self, platform_account_id: str, also: tuple[str, ...] = ()
    ) -> MonitoredAccount | None:
        """`also`: the symbols of the event about to be applied (a fill may open one: its quotes must not be in
        flight meanwhile either)."""
        return await self._lock_one(monitored_accounts.c.platform_account_id == platform_account_id, also)

    async def _lock_one(self, where, also: tuple[str, ...] = ()) -> MonitoredAccount | None:
        """The account's row locked, its state read after the cursors of the symbols it holds were locked FOR SHARE
        (ADR 0068: cursors before accounts, so no quote writer is between reading the state and saving it)."""
        m, s = monitored_accounts, risk_states
        held_now = (
            await self.session.execute(
                select(s.c.held_symbols).select_from(m.outerjoin(s, s.c.account_id == m.c.account_id)).where(where)
            )
        ).scalar_one_or_none()
        cursors = await self.quote_cursors({*(held_now or ()), *also}, lock="share")
        row = (await self.session.execute(_joined().where(where).with_for_update(of=m))).mappings().first()
        if row is None:
            return None
        account = _account(row)
        extra = set(account.held_symbols) - set(held_now or ()) - set(also)
        if extra:  # a fill of the account committed in between: rare, so locked out of order here
            cursors.update(await self.quote_cursors(extra, lock="share"))
        account.stand_behind(cursors)
        return account

    async def lock_holding(self, symbols: tuple[str, ...], since: datetime) -> list[MonitoredAccount]:
        """The accounts a quote at `since` may move, locked in id order: those holding one of its symbols now, and
        those that traded one of them after `since`, and those flat now whose state was saved after `since` (they may
        have held it then: a late quote re-evaluates them). A quote writer locks every quote cursor first (ADR 0068),
        so no writer of any holder runs meanwhile."""
        cursors = await self.lock_all_cursors(symbols)
        t = trade_events
        traded_since = select(t.c.account_id).where(
            t.c.event_type == "trade",
            t.c.outcome == "applied",
            t.c.exchange_at > since,
            t.c.symbols.overlap(list(symbols)),
        )
        # Flat now but saved after the quote: the engine may have liquidated (a breach) a position held then.
        flat_since = select(risk_states.c.account_id).where(
            risk_states.c.held_symbols == [], risk_states.c.saved_event_at > since
        )
        query = (
            _joined()
            .where(
                or_(
                    risk_states.c.held_symbols.overlap(list(symbols)),
                    monitored_accounts.c.account_id.in_(traded_since),
                    monitored_accounts.c.account_id.in_(flat_since),
                ),
                monitored_accounts.c.status == MONITORING,
            )
            .order_by(monitored_accounts.c.account_id)
            .with_for_update(of=monitored_accounts)
        )
        accounts = [_account(row) for row in (await self.session.execute(query)).mappings().all()]
        for account in accounts:
            account.stand_behind(cursors)
        return accounts

    # -- quote cursors (ADR 0068) --------------------------------------------------------------------------------
    async def quote_cursors(self, symbols, lock: str | None = None) -> dict[str, tuple[datetime, int]]:
        """The latest applied quote of each of `symbols` that has one; `lock="share"` for a writer of accounts holding
        them, taken in symbol order."""
        if not symbols:
            return {}
        query = _SHARED_CURSORS if lock == "share" else _CURSORS
        rows = await self.session.execute(query, {"symbols": sorted(set(symbols))})
        return {symbol: (at, row) for symbol, at, row in rows.all() if row is not None}

    async def lock_all_cursors(
        self, quoted=(), writes: dict[str, int] | None = None
    ) -> dict[str, tuple[datetime, int]]:
        """Every cursor locked FOR UPDATE, in symbol order, for a writer of quotes (a batch, a quote on the per-event
        path): no writer of an account holding any symbol runs until it commits, and it reads every state after
        them. A symbol never quoted before gets its row first. `writes`, if given, receives each symbol's count of
        quote-writing transactions (ADR 0071)."""
        if not set(quoted) <= _CURSOR_ROWS:
            await self.session.execute(
                text(
                    "INSERT INTO rules.quote_cursors (symbol) SELECT unnest(CAST(:symbols AS text[])) "
                    "ON CONFLICT (symbol) DO NOTHING"
                ),
                {"symbols": sorted(set(quoted))},
            )
        rows = (await self.session.execute(_ALL_CURSORS)).all()
        _CURSOR_ROWS.update(symbol for symbol, _, _, _ in rows)
        if writes is not None:
            writes.update((symbol, count) for symbol, _, _, count in rows)
        return {symbol: (at, row) for symbol, at, row, _ in rows if row is not None}

    async def advance_cursors(self, quotes: dict[str, tuple[datetime, int]]) -> dict[str, int]:
        """Each symbol's cursor moves to the given applied quote if that is later (the caller holds the rows), and
        counts one more quote-writing transaction: the new counts (ADR 0071)."""
        if not quotes:
            return {}
        names = sorted(quotes)
        rows = await self.session.execute(
            _ADVANCE_CURSORS,
            {
                "symbols": names,
                "ats": [quotes[name][0] for name in names],
                "rows": [quotes[name][1] for name in names],
            },
        )
        return {symbol: writes for symbol, writes in rows.all()}

    async def changed_states(self, after: int) -> tuple[list[MonitoredAccount], int]:
        """The accounts whose risk state was written after change number `after` (ADR 0068), without snapshot or
        rule set, and the highest change number read. The caller holds every quote cursor: every writer of an
        account holding a symbol has committed, so no change that matters to a quote is still in flight."""
        rows = (await self.session.execute(_CHANGED_STATES, {"after": after})).mappings().all()
        seen = max((row["change_seq"] for row in rows), default=after)
        return [_account(row) for row in rows], seen

    async def activate(self, account: MonitoredAccount, snapshot: dict, engine_status: str, at: datetime) -> None:
        values = {
            "platform_account_id": account.platform_account_id,
            "user_id": account.user_id,
            "program_id": account.program_id,
            "phase": account.phase,
            "attempt": account.attempt,
            "rule_set": account.rule_set,
            "status": MONITORING,
            "activated_at": at,
            "updated_at": func.now(),
        }
        await self.session.execute(
            insert(monitored_accounts)
            .values(account_id=account.account_id, **values)
            .on_conflict_do_update(index_elements=[monitored_accounts.c.account_id], set_=values)
        )
        state = {
            "attempt": account.attempt,
            "snapshot": snapshot,
            "engine_status": engine_status,
            "held_symbols": [],
            "last_event_at": None,
            "last_event_row": None,
            "saved_event_at": None,
            "saved_event_row": None,
            "next_boundary_at": None,
            "updated_at": func.now(),
        }
        await self.session.execute(
            insert(risk_states)
            .values(account_id=account.account_id, **state)
            .on_conflict_do_update(
                index_elements=[risk_states.c.account_id],
                set_={**state, "state_version": risk_states.c.state_version + 1},
            )
        )

    async def set_status(self, account_id: uuid.UUID, status: str) -> None:
        await self.session.execute(
            update(monitored_accounts)
            .where(monitored_accounts.c.account_id == account_id)
            .values(status=status, updated_at=func.now())
        )
        # A trigger moves the risk state's version (and change number) with the status (ADR 0068), so a cached
        # state and the group commit's directory of holders learn it.

    async def save_state(
        self,
        account: MonitoredAccount,
        snapshot: dict,
        engine_status: str,
        held_symbols: list[str],
        last_event_at: datetime | None,
        last_event_row: int | None,
        next_boundary_at: datetime | None,
    ) -> None:
        await self.session.execute(
            update(risk_states)
            .where(risk_states.c.account_id == account.account_id)
            .values(
                snapshot=snapshot,
                engine_status=engine_status,
                held_symbols=held_symbols,
                last_event_at=last_event_at,
                last_event_row=last_event_row,
                saved_event_at=last_event_at,
                saved_event_row=last_event_row,
                state_version=risk_states.c.state_version + 1,
                next_boundary_at=next_boundary_at,
                updated_at=func.now(),
            )
        )

    async def due_for_tick(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Monitored, still-judged accounts whose next boundary has come."""
        query = (
            select(risk_states.c.account_id)
            .select_from(
                risk_states.join(monitored_accounts, monitored_accounts.c.account_id == risk_states.c.account_id)
            )
            .where(
                risk_states.c.next_boundary_at <= now,
                risk_states.c.engine_status.in_(("active", "locked")),
                monitored_accounts.c.status == MONITORING,
            )
            .order_by(risk_states.c.next_boundary_at)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars().all())

    # -- events -------------------------------------------------------------------------------------------------
    async def store_event(self, event: IncomingEvent, account_id: uuid.UUID | None, outcome: str) -> int | None:
        """The new row's id, or None when the provider id was seen before (then nothing changed)."""
        result = await self.session.execute(
            insert(trade_events)
            .values(
                provider_event_id=event.provider_event_id,
                event_type=event.event_type,
                platform_account_id=event.platform_account_id,
                account_id=account_id,
                exchange_at=event.at,
                sequence=event.sequence,
                symbols=list(event.symbols),
                payload=event.payload,
                payload_sha256=event.payload_sha256,
                outcome=outcome,
            )
            .on_conflict_do_nothing(index_elements=[trade_events.c.provider_event_id])
            .returning(trade_events.c.id)
        )
        return result.scalar_one_or_none()

    # -- the group commit's bulk statements (one round trip each, whatever the batch's size) -----------------------
    async def lock_batch(
        self, platform_account_ids: list[str], quote_symbols: list[str], quotes_since: datetime | None
    ) -> list[MonitoredAccount]:
        """In ONE statement, in account-id order (so two batches never deadlock on accounts): the accounts the
        batch's account events name, and for its quotes the monitored accounts that traded one of their symbols
        after the earliest quote (they may have held it then: a late quote re-evaluates them). The accounts that
        merely hold a quoted symbol are not locked (ADR 0068: the holder directory). The caller holds every quote
        cursor, so last_event_* is made the effective last event by the caller. Snapshots are not read here: the
        caller restores only the accounts its cache does not hold at the row's version."""
        if not platform_account_ids and not quote_symbols:
            return []
        rows = await self.session.execute(
            _LOCK_BATCH,
            {"named": list(platform_account_ids), "symbols": list(quote_symbols), "since": quotes_since},
        )
        return [_account(row) for row in rows.mappings().all()]

    async def traded_after(self, account_ids: list[uuid.UUID], symbols: list[str], at: datetime) -> set[uuid.UUID]:
        """Which of these accounts traded one of the symbols after `at` (so may have held it then)."""
        if not account_ids:
            return set()
        t = trade_events
        rows = await self.session.execute(
            select(t.c.account_id)
            .where(
                t.c.account_id == any_(_uuids(account_ids)),
                t.c.event_type == "trade",
                t.c.outcome == "applied",
                t.c.exchange_at > at,
                t.c.symbols.overlap(symbols),
            )
            .distinct()
        )
        return set(rows.scalars().all())

    async def load_snapshots(self, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[dict, dict]]:
        """(snapshot, rule set) of each account, for those a batch must restore."""
        if not account_ids:
            return {}
        rows = await self.session.execute(_LOAD_SNAPSHOTS, {"ids": list(account_ids)})
        return {account_id: (snapshot, rule_set) for account_id, snapshot, rule_set in rows.all()}

    async def store_events(self, rows: list[tuple[IncomingEvent, uuid.UUID | None, str]]) -> list[int | None]:
        """Each (event, account, outcome) inserted in the order given, deduplicated by provider id: the new rows'
        ids, None where the provider id was stored before."""
        if not rows:
            return []
        result = await self.session.execute(
            _STORE_EVENTS,
            {
                "ids": [e.provider_event_id for e, _, _ in rows],
                "types": [e.event_type for e, _, _ in rows],
                "platform": [e.platform_account_id for e, _, _ in rows],
                "accounts": [a for _, a, _ in rows],
                "ats": [e.at for e, _, _ in rows],
                "sequences": [e.sequence for e, _, _ in rows],
                "symbols": [",".join(e.symbols) for e, _, _ in rows],
                "payloads": [
                    e.payload_json if e.payload_json is not None else json.dumps(e.payload) for e, _, _ in rows
                ],
                "hashes": [e.payload_sha256 for e, _, _ in rows],
                "outcomes": [o for _, _, o in rows],
            },
        )
        ids = {provider_id: row_id for provider_id, row_id in result.all()}
        return [ids.get(e.provider_event_id) for e, _, _ in rows]

    def _json(self, snapshot: dict) -> str:
        """A snapshot's JSON text, encoded once per unit of work: a fill's snapshot is both the row's state and its
        history entry. (Kept with the object, so its id cannot be reused by another while remembered.)"""
        known = self._encoded.get(id(snapshot))
        if known is None or known[0] is not snapshot:
            known = self._encoded[id(snapshot)] = (snapshot, json.dumps(snapshot))
        return known[1]

    async def save_states(self, states: list[tuple]) -> None:
        """Full saves: (account id, snapshot, engine status, held symbols, last at, last row, next boundary); the
        snapshot now describes the last event, and the version moves on."""
        if not states:
            return
        await self.session.execute(
            _SAVE_STATES,
            {
                "accounts": [x[0] for x in states],
                "snapshots": [self._json(x[1]) for x in states],
                "statuses": [x[2] for x in states],
                "held": [",".join(x[3]) for x in states],
                "last_ats": [x[4] for x in states],
                "last_rows": [x[5] for x in states],
                "boundaries": [x[6] for x in states],
            },
        )

    async def add_snapshots(self, snapshots: list[tuple[MonitoredAccount, datetime, int, dict]]) -> None:
        if not snapshots:
            return
        await self.session.execute(
            _ADD_SNAPSHOTS,
            {
                "accounts": [x[0].account_id for x in snapshots],
                "attempts": [x[0].attempt for x in snapshots],
                "ats": [x[1] for x in snapshots],
                "rows": [x[2] for x in snapshots],
                "snapshots": [self._json(x[3]) for x in snapshots],
            },
        )

    async def is_known_event(self, provider_event_id: str) -> bool:
        found = await self.session.execute(
            select(trade_events.c.id).where(trade_events.c.provider_event_id == provider_event_id)
        )
        return found.first() is not None

    async def quarantine(self, event: IncomingEvent, reason: str) -> bool:
        result = await self.session.execute(
            insert(quarantined_events)
            .values(
                provider_event_id=event.provider_event_id,
                platform_account_id=event.platform_account_id,
                event_type=event.event_type,
                payload=event.payload,
                payload_sha256=event.payload_sha256,
                reason=reason,
            )
            .on_conflict_do_nothing(index_elements=[quarantined_events.c.provider_event_id])
            .returning(quarantined_events.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def list_quarantined(self, limit: int) -> list[dict]:
        q = quarantined_events
        rows = await self.session.execute(select(q).where(q.c.released_at.is_(None)).order_by(q.c.id).limit(limit))
        return [dict(row) for row in rows.mappings().all()]

    async def take_quarantined(self, platform_account_id: str) -> list[dict]:
        """The account's quarantined events, now released (the caller applies them in this transaction)."""
        q = quarantined_events
        rows = (
            await self.session.execute(
                update(q)
                .where(q.c.platform_account_id == platform_account_id, q.c.released_at.is_(None))
                .values(released_at=func.now())
                .returning(q.c.provider_event_id, q.c.payload)
            )
        ).all()
        return [{"provider_event_id": row.provider_event_id, "payload": row.payload} for row in rows]

    async def events_for_replay(
        self,
        account_id: uuid.UUID,
        after: tuple[datetime, int] | None,
        until: tuple[datetime, int],
        held_symbols: set[str],
    ) -> list[StoredEvent]:
        """The account's applied fills in (after, until] and the quotes of any symbol it could hold meanwhile."""
        t = trade_events
        excluded = select(excluded_events.c.provider_event_id).where(excluded_events.c.account_id == account_id)
        later = [tuple_(t.c.exchange_at, t.c.id) <= tuple_(*until), t.c.provider_event_id.not_in(excluded)]
        if after is not None:
            later.append(tuple_(t.c.exchange_at, t.c.id) > tuple_(*after))
        fills = (
            await self.session.execute(
                select(t.c.id, t.c.provider_event_id, t.c.payload, t.c.symbols, t.c.exchange_at, t.c.event_type).where(
                    t.c.account_id == account_id,
                    t.c.event_type.in_(("trade", "clock")),
                    t.c.outcome == "applied",
                    *later,
                )
            )
        ).all()
        symbols = set(held_symbols)
        for row in fills:
            symbols.update(row.symbols)
        if not fills and after is None:
            return []
        quote_filters = list(later)
        if after is None:
            # Before the first fill the account holds nothing, so no earlier quote can move it.
            quote_filters.append(t.c.exchange_at >= min(row.exchange_at for row in fills))
        quotes = []
        if symbols:
            quotes = (
                await self.session.execute(
                    select(t.c.id, t.c.provider_event_id, t.c.payload).where(
                        t.c.event_type == "quote",
                        t.c.outcome == "applied",
                        t.c.symbols.overlap(sorted(symbols)),
                        *quote_filters,
                    )
                )
            ).all()
        stored = []
        for row in fills:
            if row.event_type == "clock":
                stored.append(StoredEvent(row.id, row.provider_event_id, None, (), TimePassed(at=row.exchange_at)))
            else:
                fill, marks = stored_fill_or_marks(row.payload)
                stored.append(StoredEvent(row.id, row.provider_event_id, fill, marks))
        for row in quotes:
            fill, marks = stored_fill_or_marks(row.payload)
            stored.append(StoredEvent(row.id, row.provider_event_id, fill, marks))
        return stored

    async def quotes_after(
        self, account_id: uuid.UUID, symbols: list[str], after: tuple[datetime, int], stored_before: int
    ) -> list[StoredEvent]:
        """The applied quotes of `symbols` later than `after` (exchange time, row) and stored before row
        `stored_before`, less the account's excluded events: the quotes events_for_replay would give the account
        after a fill at `after` (the partial index on quotes' exchange time keeps this to the few beyond the fill)."""
        t = trade_events
        excluded = select(excluded_events.c.provider_event_id).where(excluded_events.c.account_id == account_id)
        rows = (
            await self.session.execute(
                select(t.c.id, t.c.provider_event_id, t.c.payload).where(
                    t.c.event_type == "quote",
                    t.c.outcome == "applied",
                    t.c.exchange_at >= after[0],
                    tuple_(t.c.exchange_at, t.c.id) > tuple_(*after),
                    t.c.id < stored_before,
                    t.c.symbols.overlap(sorted(symbols)),
                    t.c.provider_event_id.not_in(excluded),
                )
            )
        ).all()
        stored = []
        for row in rows:
            fill, marks = stored_fill_or_marks(row.payload)
            stored.append(StoredEvent(row.id, row.provider_event_id, fill, marks))
        return stored

    # -- snapshots ----------------------------------------------------------------------------------------------
    async def add_snapshot(self, account: MonitoredAccount, at: datetime, row_id: int, snapshot: dict) -> None:
        await self.session.execute(
            insert(risk_snapshots).values(
                account_id=account.account_id,
                attempt=account.attempt,
                after_event_at=at,
                after_event_row=row_id,
                snapshot=snapshot,
            )
        )

    async def last_snapshot_before(
        self, account: MonitoredAccount, at: datetime, row_id: int
    ) -> tuple[dict, datetime, int] | None:
        s = risk_snapshots
        row = (
            await self.session.execute(
                select(s.c.snapshot, s.c.after_event_at, s.c.after_event_row)
                .where(
                    s.c.account_id == account.account_id,
                    s.c.attempt == account.attempt,
                    tuple_(s.c.after_event_at, s.c.after_event_row) < tuple_(at, row_id),
                )
                .order_by(s.c.after_event_at.desc(), s.c.after_event_row.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else (row.snapshot, row.after_event_at, row.after_event_row)

    async def drop_snapshots_from(self, account: MonitoredAccount, at: datetime, row_id: int) -> None:
        """Snapshots taken after a late event's place in time no longer describe what happened."""
        s = risk_snapshots
        await self.session.execute(
            delete(s).where(
                s.c.account_id == account.account_id,
                s.c.attempt == account.attempt,
                tuple_(s.c.after_event_at, s.c.after_event_row) >= tuple_(at, row_id),
            )
        )

    # -- decisions ----------------------------------------------------------------------------------------------
    async def add_violation(
        self,
        account: MonitoredAccount,
        *,
        rule: str,
        severity: str,
        occurred_at: datetime,
        evidence: dict,
        trigger_event_id: str | None,
        dedup_key: str,
    ) -> uuid.UUID | None:
        """The new violation's id, or None when a re-evaluation found the same decision again."""
        result = await self.session.execute(
            insert(violations)
            .values(
                violation_id=uuid.uuid4(),
                account_id=account.account_id,
                attempt=account.attempt,
                rule=rule,
                severity=severity,
                occurred_at=occurred_at,
                evidence=jsonable(evidence),
                trigger_event_id=trigger_event_id,
                dedup_key=dedup_key,
            )
            .on_conflict_do_nothing(index_elements=[violations.c.dedup_key])
            .returning(violations.c.violation_id)
        )
        return result.scalar_one_or_none()

    async def list_violations(self, account_id: uuid.UUID | None, limit: int) -> list[dict]:
        v = violations
        query = select(v).order_by(v.c.occurred_at.desc(), v.c.created_at.desc()).limit(limit)
        if account_id is not None:
            query = query.where(v.c.account_id == account_id)
        else:
            query = query.where(v.c.review_status == "open", v.c.severity != "soft")
        return [dict(row) for row in (await self.session.execute(query)).mappings().all()]

    async def get_violation(self, violation_id: uuid.UUID) -> dict | None:
        row = (
            (await self.session.execute(select(violations).where(violations.c.violation_id == violation_id)))
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    async def set_review(self, violation_id: uuid.UUID, status: str, reviewer: str, reason: str, at: datetime) -> None:
        await self.session.execute(
            update(violations)
            .where(violations.c.violation_id == violation_id)
            .values(review_status=status, reviewed_by=reviewer, review_reason=reason, reviewed_at=at)
        )

    async def event_position(self, provider_event_id: str) -> tuple[datetime, int] | None:
        row = (
            await self.session.execute(
                select(trade_events.c.exchange_at, trade_events.c.id).where(
                    trade_events.c.provider_event_id == provider_event_id
                )
            )
        ).first()
        return None if row is None else (row.exchange_at, row.id)

    async def exclude_event(self, account: MonitoredAccount, provider_event_id: str, violation_id: uuid.UUID) -> None:
        await self.session.execute(
            insert(excluded_events)
            .values(
                account_id=account.account_id,
                attempt=account.attempt,
                provider_event_id=provider_event_id,
                violation_id=violation_id,
            )
            .on_conflict_do_nothing()
        )

    async def upsert_news(self, rows: list) -> None:
        if not rows:
            return
        values = [
            {
                "at": row.at,
                "title": row.title,
                "instruments": None if row.instruments is None else list(row.instruments),
                "tier": row.tier,
                "restricted": row.restricted,
            }
            for row in rows
        ]
        statement = insert(news_events).values(values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[news_events.c.at, news_events.c.title],
                set_={
                    "instruments": statement.excluded.instruments,
                    "tier": statement.excluded.tier,
                    "restricted": statement.excluded.restricted,
                    "imported_at": func.now(),
                },
            )
        )

    async def audit(self, entry: AuditEntry) -> None:
        await SqlAlchemyAuditLog(self.session, SCHEMA).append(entry)

    async def add_job(
        self, account: MonitoredAccount, kind: str, key: str, payload: dict, decided_at: datetime
    ) -> bool:
        result = await self.session.execute(
            insert(enforcement_jobs)
            .values(
                account_id=account.account_id,
                kind=kind,
                idempotency_key=key,
                payload=to_json(payload),
                decided_at=decided_at,
            )
            .on_conflict_do_nothing(index_elements=[enforcement_jobs.c.idempotency_key])
            .returning(enforcement_jobs.c.id)
        )
        return result.scalar_one_or_none() is not None

    async def publish(self, event, account: MonitoredAccount, version: int) -> None:
        await outbox.enqueue(
            self.session,
            schema=SCHEMA,
            source=SCHEMA,
            event=event,
            aggregate_id=str(account.account_id),
            aggregate_version=version,
            destinations=EVENT_ROUTES.get(event.event_type, ()),
        )
