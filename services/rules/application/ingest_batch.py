"""IngestTradeEvents for a batch of callers' events in ONE transaction (the group commit of ADR 0061).

What ADR 0060 guarantees holds per event exactly as on the per-event path (ingest_trade_events.py):
- each raw event is stored once by provider id (a duplicate, in the store or earlier in the batch, says DUPLICATE);
- an event naming an unknown platform account is quarantined;
- events apply per account in (exchange time, arrival row) order; an event earlier than the account's last one
  re-evaluates it from the last snapshot before it, through the same replay as every recovery;
- the decisions, outbox events and enforcement jobs commit with the events that caused them.

What the batch changes is the cost: one INSERT for the raw events, one SELECT ... FOR UPDATE of every account the
batch touches (in account-id order: batches of other processes wait only on shared accounts and never deadlock on
them), the engine run in memory on states taken from the process's RiskCache when the row's version says they are
current, one UPDATE for the states that changed, one INSERT for the snapshots, one commit. A quote that decides
nothing for an account only moves the account's last event (no snapshot written, ADR 0061); within a batch the
quotes of a symbol are coalesced to the lowest, highest and last (ADR 0062), and the others are stored as
`coalesced`, which replays skip exactly as live ingestion did.

Live notices go out after commit, pipelined: violations at once, risk updates throttled per account (live_risk.py).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from bisect import insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.rules.application.catch_up_quotes import catch_up_quotes
from services.rules.application.coalesce_quotes import COALESCED, coalesce_quotes
from services.rules.application.current_risk import current_risk
from services.rules.application.holder_directory import HolderDirectory
from services.rules.application.incoming import QUOTE, TRADE, IncomingEvent
from services.rules.application.ingest_trade_events import (
    APPLIED,
    DUPLICATE,
    RECORDED,
    IngestResult,
    IngestTradeEventsHandler,
)
from services.rules.application.live_risk import ThrottledRiskNotices, captured
from services.rules.application.monitored_account import MONITORING, MonitoredAccount
from services.rules.application.ports import LiveNotices, MonitoringStore, UnitOfWorkFactory
from services.rules.application.quote_log import QuoteLog
from services.rules.application.record_decisions import record_decisions
from services.rules.application.risk_cache import RiskCache
from services.rules.application.risk_runner import StoredEvent, TakenDecision, apply_stored
from services.rules.application.risk_states import restore
from services.rules.domain.account_risk import AccountRisk

log = logging.getLogger(__name__)

# A restore from the row replays the quotes applied since its snapshot; past this many the state is saved in full
# so that replay stays short (for another replica, or this one after a restart).
MAX_LAZY_QUOTES = 128


# How many events an account keeps in memory after its base snapshot (a late event after the base is re-evaluated
# from them, in memory); past this many the current state becomes the base.
WINDOW = 96


@dataclass
class _Working:
    """One account the batch moves (locked, or a holder read from the directory under the cursors' lock).

    `risk` is always `base` (a snapshot, at `base_at`) with `since` (the stored events applied after it, in order:
    fills, ticks and quotes) replayed onto it: so an event that arrives late but after `base_at` is re-evaluated in
    memory, by replaying `since` with it, instead of from the stored snapshots and events (ADR 0068). `saved_at` is
    where the row's snapshot stands and `lazy` how many quotes lie after it unsaved.

    `deferred` is an in-order quote not yet applied to `risk` because applying it certainly decides nothing
    (AccountRisk.quiet_mark_equity): it is already counted in `last`, `since` and `lazy`, and `deferred_equity` is
    the equity it leaves. A run of such quotes of the held symbol leaves the state the last one alone leaves, so a
    quote moving a quiet holder costs a comparison, not an engine run; `settle()` applies it before anything reads
    or changes `risk`."""

    account: MonitoredAccount
    attempt: int
    version: int  # the row's state_version this state is (the cache's check, with attempt and last)
    risk: AccountRisk
    last: tuple[datetime, int] | None
    base: dict | None
    base_at: tuple[datetime, int] | None
    since: list[StoredEvent]
    saved_at: tuple[datetime, int] | None
    lazy: int
    rule_set: dict | None = None  # as stored (the directory's accounts do not carry it)
    full_save: bool = False
    moved: bool = False
    snapshots: list[tuple[datetime, int, dict]] = field(default_factory=list)
    deferred: StoredEvent | None = None
    deferred_equity: Decimal | None = None
    # Where the last change other than a quote that decided nothing lies (a fill, a tick, a decision, a boundary, a
    # re-evaluation, conservatively any full save): after it only quotes of the symbols held were applied.
    quiet_since: tuple[datetime, int] | None = None

    def defer(self, quote: StoredEvent, position: tuple[datetime, int]) -> bool:
        """Keep an in-order quote unapplied if it is quiet for this account (and the window and the lazy replay
        have room for it); False: it must be applied."""
        if self.lazy + 1 >= MAX_LAZY_QUOTES or len(self.since) >= WINDOW:
            return False
        risk = self.risk
        held = [mark for mark in quote.marks if mark.symbol in risk.positions]
        if len(held) != 1:
            return False
        equity = risk.quiet_mark_equity(held[0])
        if equity is None:
            return False
        self.deferred, self.deferred_equity = quote, equity
        self.last = position
        self.since.append(quote)
        self.lazy += 1
        self.moved = True
        return True

    def held_then(self, symbols: set[str], position: tuple[datetime, int]) -> bool | None:
        """Whether the account may have held one of `symbols` at `position` (False: certainly not); None if it cannot
        tell. After `quiet_since` the positions have not changed (only quotes deciding nothing were applied), so a
        later position is told by what is held now, however far back it lies. Otherwise from the base and the fills
        of the window: positions change only by fills and a breach's or a flat-by's liquidation, which only
        closes, so with none of the symbols in the base and no fill of one before `position`, none was held then."""
        if self.quiet_since is not None and position > self.quiet_since:
            return not self.risk.positions.keys().isdisjoint(symbols)
        base = self.base
        if base is None or (self.base_at is not None and position <= self.base_at):
            return None
        if any(raw["symbol"] in symbols for raw in base["positions"]):
            return True
        for event in self.since:
            if (event.at, event.row_id) >= position:
                break
            if event.fill is not None and event.fill.symbol in symbols:
                return True
        return False

    def keep_moot(self, late: StoredEvent, position: tuple[datetime, int]) -> None:
        """A late quote that certainly changes nothing: kept in the window in its place if the window reaches back
        to it (a later replay must see it), counted in the row's lazy replay if it lies in it; nothing is written and
        no figure moves."""
        if self.base is not None and (self.base_at is None or position > self.base_at):
            insort(self.since, late, key=lambda e: (e.at, e.row_id))
        if self.saved_at is None or position > self.saved_at:
            self.lazy += 1

    def settle(self) -> None:
        """Apply the deferred quote, if any: from here on `risk` is the account's state at `last`."""
        deferred = self.deferred
        if deferred is not None:
            self.deferred = self.deferred_equity = None
            if apply_stored(self.risk, deferred):
                raise RuntimeError(f"quote {deferred.provider_event_id} was deferred as quiet but decided something")

    def figures(self) -> tuple:
        """The live risk figures as they stand (the deferred quote's equity and instant if one is pending)."""
        if self.deferred is None:
            return captured(self.account, self.risk)
        return captured(self.account, self.risk, self.deferred_equity, self.deferred.at)

    def full_account(self) -> MonitoredAccount:
        """The account with its rule set (a holder shared from the directory has none): a private copy if needed."""
        if self.account.rule_set is None:
            self.account = dataclasses.replace(self.account, rule_set=self.rule_set)
        return self.account

    def remember(self, event: StoredEvent, snapshot: dict | None = None) -> None:
        """`event` was applied after everything in the window; a long window restarts from the current state."""
        self.since.append(event)
        if len(self.since) > WINDOW:
            self.rebase(snapshot if snapshot is not None else self.risk.to_snapshot())

    def rebase(self, snapshot: dict) -> None:
        """`snapshot` (of `risk` now) is the new base: nothing lies after it."""
        self.base, self.base_at, self.since = snapshot, self.last, []

    def save(self) -> None:
        self.full_save, self.lazy = True, 0
        self.quiet_since = self.last

    def begin_batch(self, account: MonitoredAccount) -> None:
        self.account, self.full_save, self.moved = account, False, False
        if self.snapshots:
            self.snapshots = []


class IngestBatchHandler:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        per_event: IngestTradeEventsHandler,
        cache: RiskCache,
        notices: LiveNotices | None = None,
        on_enforcement: Callable[[], None] | None = None,
    ) -> None:
        self._uow = uow
        self._per_event = per_event
        self._cache = cache
        self._live = ThrottledRiskNotices(notices)
        self._cursors: dict[str, tuple[datetime, int]] = {}  # the quote cursors of the batch being processed
        self._moved_cursors: dict[str, tuple[datetime, int]] = {}  # and the latest quote it applied, per symbol
        self._directory = HolderDirectory()
        self._quote_log = QuoteLog()  # the quotes this process applied, for late fills (ADR 0071)
        # Late events re-evaluated in memory, and from the stored snapshots and events (the benchmark prints them).
        self.late_in_memory = 0
        self.late_from_store = 0
        self.late_superseded = 0  # of the in-memory ones, those a later quote of the symbol had made moot
        # The first boundary after a late quote's instant, per rule set (shared objects: parsed once per process).
        self._boundaries: dict[tuple[int, int], datetime] = {}
        self._on_enforcement = on_enforcement or (lambda: None)

    async def handle(self, events: Sequence[IncomingEvent]) -> list[IngestResult]:
        results: dict[int, str] = {}
        live: list[tuple[str, dict]] = []
        working: dict[uuid.UUID, _Working] = {}
        enforcement = False
        async with self._uow() as uow:
            try:
                enforcement = await self._run(uow.store, events, results, working, live)
                await uow.commit()
            except BaseException:
                # The cached states were changed in place; the rollback restored the rows they came from: forgotten.
                for account_id in working:
                    self._cache.forget(account_id)
                self._quote_log.forget()  # it may hold the rolled-back quotes, and its counts are not the rows'
                raise
        cache = self._cache
        for account_id, work in working.items():
            if work.full_save:
                work.version += 1
            cache.put(account_id, work)
        if enforcement:
            self._on_enforcement()
        await self._send_live(live, working)
        return [IngestResult(event.provider_event_id, results[i]) for i, event in enumerate(events)]

    async def _run(
        self,
        store: MonitoringStore,
        events: Sequence[IncomingEvent],
        results: dict[int, str],
        working: dict[uuid.UUID, _Working],
        live: list[tuple[str, dict]],
    ) -> bool:
        order = sorted(range(len(events)), key=lambda i: (events[i].at, events[i].sequence or 0, i))
        seen: set[str] = set()
        todo: list[int] = []
        for i in order:
            if events[i].provider_event_id in seen:
                results[i] = DUPLICATE  # the same event twice in one batch: the first one counts
            else:
                seen.add(events[i].provider_event_id)
                todo.append(i)
        quotes = [events[i] for i in todo if events[i].event_type == QUOTE]
        symbols = sorted({symbol for quote in quotes for symbol in quote.symbols})
        named = sorted({events[i].platform_account_id for i in todo if events[i].event_type != QUOTE})
        since = min((quote.at for quote in quotes), default=None)
        # Every quote cursor first (ADR 0068): no other writer of any account that holds a symbol runs until this
        # batch commits, so the states read below stay the accounts' states, locked or not.
        writes: dict[str, int] = {}
        cursors = await store.lock_all_cursors(symbols, writes)
        self._quote_log.validate(cursors, writes)
        locked = await store.lock_batch(named, symbols, since)
        for account in locked:
            account.stand_behind(cursors)
        by_platform = {account.platform_account_id: account for account in locked}
        kept = coalesce_quotes([(i, events[i]) for i in todo])

        rows: list[tuple[int, uuid.UUID | None, str]] = []
        for i in todo:
            event = events[i]
            if event.event_type == QUOTE:
                rows.append((i, None, APPLIED if i in kept else COALESCED))
                continue
            account = by_platform.get(event.platform_account_id)
            if account is None:
                results[i] = await self._per_event.quarantine(store, event)
                continue
            applies = event.event_type == TRADE and account.status == MONITORING
            if applies and event.is_flatten_echo:
                # The engine liquidated at the breach; the platform's own flatten fill must not reopen it. (The
                # flatten is called after the breach commits, so its echo never shares the breach's batch.)
                applies = event.fill.symbol in account.held_symbols
            rows.append((i, account.account_id, APPLIED if applies else RECORDED))
        row_ids = await store.store_events([(events[i], account_id, outcome) for i, account_id, outcome in rows])

        stored: list[tuple[datetime, int, int, uuid.UUID | None]] = []
        for (i, account_id, outcome), row_id in zip(rows, row_ids, strict=True):
            if row_id is None:
                results[i] = DUPLICATE
                continue
            results[i] = RECORDED if outcome == COALESCED else outcome
            if outcome == APPLIED:
                stored.append((events[i].at, row_id, i, account_id))
        stored.sort(key=lambda item: (item[0], item[1]))  # replays order by (exchange time, row): so does live
        # Quotes from this row on are the batch's own, applied in their turn; older ones may be caught up after a fill.
        first_row = min((row_id for row_id in row_ids if row_id is not None), default=0)

        # The accounts merely holding a quoted symbol are read, not locked: a quote writes one only if it decides
        # something for it (or its lazy replay grew long), and the cursors held keep every other writer away.
        changed, seen = await store.changed_states(self._directory.seen)
        self._directory.apply(changed, seen)
        holders = self._directory.holders(symbols, {account.account_id for account in locked})
        await self._take_states(
            store,
            [(a, a.last_position) for a in locked if a.status == MONITORING]
            + [(a, a.effective_last(cursors)) for a in holders],
            working,
        )
        holding: dict[str, list[_Working]] = {}
        for account in holders:
            for symbol in account.held_symbols:
                holding.setdefault(symbol, []).append(working[account.account_id])
        named_work = [working[a.account_id] for a in locked if a.account_id in working]
        self._cursors = cursors
        self._boundaries.clear()
        enforcement = False
        moved_cursors: dict[str, tuple[datetime, int]] = {}
        self._moved_cursors = moved_cursors
        for at, row_id, i, account_id in stored:
            event = events[i]
            applied = StoredEvent(row_id, event.provider_event_id, event.fill, event.marks, event.tick)
            if account_id is not None:
                enforcement |= await self._advance(store, working[account_id], event, applied, live, first_row)
                continue
            position = (at, row_id)
            quoted = set(event.symbols)
            for symbol in quoted:
                if symbol not in moved_cursors or moved_cursors[symbol] < position:
                    moved_cursors[symbol] = position
                self._quote_log.add(symbol, applied)
            # The accounts this quote may move: the holders read above (their positions do not change in this batch:
            # none of their own events is in it) and the locked ones (named, or having traded a quoted symbol since
            # the earliest quote), whose positions the batch may be changing.
            seen: set[uuid.UUID] = set()
            candidates = []
            for symbol in sorted(quoted):
                for work in holding.get(symbol, ()):
                    if work.account.account_id not in seen:
                        seen.add(work.account.account_id)
                        candidates.append(work)
            candidates.extend(named_work)
            # A late quote moved an account only if it held one of the symbols then. The window answers that for
            # most (held_then); for the others: it holds one now, or it traded one after the quote (the per-event
            # path locks exactly those; the same test here), or it is flat now (a breach's liquidation).
            unknown = [
                w.account.account_id
                for w in named_work
                if w.last is not None
                and position < w.last
                and not quoted & w.risk.positions.keys()
                and w.held_then(quoted, position) is None
            ]
            traded = await store.traded_after(unknown, sorted(quoted), at)
            for work in candidates:
                positions = work.risk.positions
                holds = not positions.keys().isdisjoint(quoted)
                if work.last is not None and position < work.last:
                    held = work.held_then(quoted, position)
                    if held is False:
                        # Not held then: nothing moves (a replay skips it too); kept in the window in its place,
                        # where a late fill before it would find it.
                        insort(work.since, applied, key=lambda e: (e.at, e.row_id))
                    elif self._moot(work, applied, position):
                        pass
                    elif held or holds or work.account.account_id in traded or not positions:
                        enforcement |= await self._advance(store, work, event, applied, live, first_row)
                elif holds and not work.defer(applied, position):
                    # The common case is the quiet quote just deferred; the others are kept short too.
                    status_before = work.risk.status
                    taken = self._in_order(work, applied, position)
                    if taken:
                        enforcement |= await self._record(store, work, taken, status_before, row_id, live)
        await self._write(store, working)
        # What the holders now stand behind: the latest applied quote of each symbol.
        self._quote_log.wrote(await store.advance_cursors(moved_cursors))
        return enforcement

    async def _take_states(
        self, store: MonitoringStore, accounts: list[tuple[MonitoredAccount, tuple | None]], working
    ) -> None:
        """Each (account, its effective last event) into `working`: from the cache when the entry is still the
        row's state, else restored from the row. Holders come shared from the directory: never changed here."""
        missing: list[MonitoredAccount] = []
        cache = self._cache
        for account, last in accounts:
            work = cache.get(account.account_id, account.attempt, account.state_version, last)
            if work is None:
                # A private copy (holders are the directory's), standing at its effective last event.
                at, row = last if last is not None else (None, None)
                missing.append(dataclasses.replace(account, last_event_at=at, last_event_row=row))
            else:
                work.begin_batch(account)
                working[account.account_id] = work
        stored = await store.load_snapshots([account.account_id for account in missing])
        for account in missing:
            snapshot, account.rule_set = stored[account.account_id]
            risk, since = await current_risk(store, account, snapshot)
            working[account.account_id] = _Working(
                account,
                account.attempt,
                account.state_version,
                risk,
                account.last_position,
                snapshot,
                account.saved_position,
                since,
                account.saved_position,
                len(since),
                rule_set=account.rule_set,
                quiet_since=account.saved_position,  # the row's replay after its snapshot applies quotes only
            )

    async def _advance(
        self,
        store: MonitoringStore,
        work: _Working,
        event: IncomingEvent,
        stored: StoredEvent,
        live: list[tuple[str, dict]],
        stored_before: int,
    ) -> bool:
        work.settle()
        account = work.account
        status_before = work.risk.status
        row_id = stored.row_id
        position = (event.at, row_id)
        late = work.last is not None and position < work.last
        if not late:
            taken = self._in_order(work, stored, position)
        elif (
            work.base is not None
            and (work.base_at is None or position > work.base_at)
            and (unseen := self._quotes_unseen(work, event, position)) is not None
        ):
            self.late_in_memory += 1
            taken = await self._reevaluate_in_memory(store, work, stored, position, unseen)
        else:
            self.late_from_store += 1
            # Snapshots this batch took at or after the late event no longer describe what happened; the earlier
            # ones are written now so the re-evaluation can start from them.
            earlier = [(account, at, row, snap) for at, row, snap in work.snapshots if (at, row) < position]
            await store.add_snapshots(earlier)
            work.snapshots.clear()
            work.risk, taken = await self._per_event.reevaluate(
                store, work.full_account(), event, row_id, until=work.last
            )
            work.save()
            snapshot = work.risk.to_snapshot()
            work.snapshots.append((work.last[0], work.last[1], snapshot))
            work.rebase(snapshot)
        if (event.fill is not None or late) and self._quoted_beyond(work):
            # The positions may have changed: quotes of a newly held symbol may lie beyond the last event.
            missed, work.last, caught = await catch_up_quotes(
                store, account.account_id, work.risk, work.last, stored_before
            )
            work.since.extend(caught)
            if missed:
                work.save()  # a caught-up quote decided something (a breach liquidates): not quiet since before it
            taken = [*taken, *missed]
        if taken:
            await self._record(store, work, taken, status_before, row_id, live)
        return bool(taken)

    @staticmethod
    async def _record(store, work: _Working, taken, status_before, row_id: int, live) -> bool:
        """What `taken` decided, stored with the batch; the trader's live notices of it collected."""
        notices = await record_decisions(store, work.account, taken, status_before, version=row_id)
        live.extend((work.account.user_id, notice) for notice in notices)
        return True

    @staticmethod
    def _in_order(work: _Working, stored: StoredEvent, position: tuple[datetime, int]) -> list[TakenDecision]:
        """An event not earlier than the account's last one: applied to the state, and remembered in its window."""
        work.settle()
        risk = work.risk
        boundary_before = risk.next_boundary_at
        taken = apply_stored(risk, stored)
        work.last = position
        if stored.fill is not None or stored.tick is not None:
            work.save()
            snapshot = risk.to_snapshot()
            work.snapshots.append((position[0], position[1], snapshot))
            work.remember(stored, snapshot)
        elif taken or risk.next_boundary_at != boundary_before or work.lazy + 1 >= MAX_LAZY_QUOTES:
            work.save()  # a decision, a boundary passed or a long replay: the snapshot must move
            work.remember(stored)
        else:
            work.moved = True
            work.lazy += 1
            work.remember(stored)
        return taken

    def _quotes_unseen(
        self, work: _Working, event: IncomingEvent, position: tuple[datetime, int]
    ) -> list[StoredEvent] | None:
        """What a late event needs beyond the account's window: for a late fill of a symbol quoted since, every
        applied quote of it after the fill (the account may hold it at quotes its window never saw), from the quote
        log; None if the log does not know them all (the store's replay then finds them). Nothing for the rest."""
        fill = event.fill
        if fill is None or not self._quoted_since(fill.symbol, position):
            return []
        return self._quote_log.after(fill.symbol, position)

    async def _reevaluate_in_memory(
        self,
        store: MonitoringStore,
        work: _Working,
        late: StoredEvent,
        position: tuple[datetime, int],
        unseen: list[StoredEvent],
    ) -> list[TakenDecision]:
        """A late event after the base: the window replayed with it, in memory. A quote of symbols the account did
        not hold at its instant changes nothing (a replay skips it too), which is the common case under disorder: a
        quote stamped just before the fill that opened the position."""
        if late.fill is None and late.tick is None and self._superseded(work, late, position):
            work.keep_moot(late, position)
            self.late_superseded += 1
            return []
        window = [*work.since, late]
        if unseen:
            rows = {event.row_id for event in window}
            window.extend(quote for quote in unseen if quote.row_id not in rows)
            last_quote = (unseen[-1].at, unseen[-1].row_id)
            if last_quote > work.last:
                work.last = last_quote  # the account now stands behind the symbol's cursor
        window.sort(key=lambda e: (e.at, e.row_id))
        risk = restore(work.full_account(), work.base)
        taken: list[TakenDecision] = []
        is_quote = late.fill is None and late.tick is None
        for event in window:
            if event is late and is_quote and not any(mark.symbol in risk.positions for mark in late.marks):
                # Not held then: nothing moves, nothing to write; kept in the window in its place, since a later
                # late fill before it can make the account hold the symbol then.
                insort(work.since, late, key=lambda e: (e.at, e.row_id))
                return []
            taken.extend(apply_stored(risk, event))
        boundary_before = work.risk.next_boundary_at
        work.risk, work.since = risk, window
        # The snapshots this batch took from the late event on describe states that no longer are: were one of them
        # kept at the last event, the batch's write would save it as the account's state (found by the arrival-order
        # property: a late fill's snapshot saved over the breach a later late quote had found).
        work.snapshots = [(at, row, snap) for at, row, snap in work.snapshots if (at, row) < position]
        rewritten = not is_quote or any(
            (e.fill is not None or e.tick is not None) and (e.at, e.row_id) > position for e in window
        )
        if rewritten or (work.saved_at is not None and position < work.saved_at):
            # The stored snapshots (and the row's) from the late event on no longer describe what happened: gone,
            # and the state saved at the last event, as after any re-evaluation.
            await store.drop_snapshots_from(work.account, late.at, late.row_id)
            work.save()
            work.snapshots.append((work.last[0], work.last[1], risk.to_snapshot()))
        elif taken or risk.next_boundary_at != boundary_before or work.lazy + 1 >= MAX_LAZY_QUOTES:
            work.save()
        else:
            # A late quote after the row's snapshot that decided nothing: it lies inside (saved, last], where every
            # reader of the row replays it; nothing to write.
            work.moved = True
            work.lazy += 1
        return taken

    def _superseded(self, work: _Working, late: StoredEvent, position: tuple[datetime, int]) -> bool:
        """A late quote whose every effect a later quote of the same symbol has already overwritten (the common late
        event when callers fall behind: a quote delivered after a later quote of its symbol, for all its holders):
        only quotes lie after it in the window, one of them marks the same symbol, and the engine's exact test
        (AccountRisk.quote_between_changes_nothing) says it decides nothing."""
        risk = work.risk
        if len(risk.positions) != 1 or len(late.marks) != 1:
            return False
        mark = late.marks[0]
        later_mark = False
        for event in reversed(work.since):
            if (event.at, event.row_id) < position:
                break
            if event.fill is not None or event.tick is not None:
                return False
            later_mark = later_mark or any(m.symbol == mark.symbol for m in event.marks)
        if not later_mark:
            return False
        return self._changes_nothing(risk, late.row_id, mark)

    def _changes_nothing(self, risk: AccountRisk, row_id: int, mark) -> bool:
        """The engine's exact test for a late mark before later marks of its symbol; the first boundary after the
        mark is looked up once per rule set and quote in a batch (shared rule sets: most holders share one)."""
        key = (id(risk.rule_set), row_id)
        boundary = self._boundaries.get(key)
        if boundary is None:
            boundary = self._boundaries[key] = risk.first_boundary_after(mark.at)
        return risk.quote_between_changes_nothing(mark.symbol, mark.price, boundary)

    def _moot(self, work: _Working, late: StoredEvent, position: tuple[datetime, int]) -> bool:
        """A late quote that later quotes of its symbol made moot for this account, told without its window (the
        common late event when callers fall behind, for every holder of the symbol, however late): the account
        holds only that symbol, nothing but quotes of it has changed the state since before the late one
        (quiet_since), so a later quote of it was applied after it, and the engine's exact test
        (AccountRisk.quote_between_changes_nothing) says it decides nothing. Kept in the window in its place if the
        window reaches back to it (a later replay must see it); nothing is written."""
        quiet_since = work.quiet_since
        if quiet_since is None or position <= quiet_since or len(late.marks) != 1:
            return False
        mark = late.marks[0]
        work.settle()
        risk = work.risk
        if len(risk.positions) != 1 or mark.symbol not in risk.positions:
            return False
        if not self._changes_nothing(risk, late.row_id, mark):
            return False
        work.keep_moot(late, position)
        self.late_in_memory += 1
        self.late_superseded += 1
        return True

    def _quoted_since(self, symbol: str, position: tuple[datetime, int]) -> bool:
        """Whether an applied quote of `symbol` lies after `position`: stored before this batch (its cursor) or
        applied earlier in it."""
        for cursors in (self._cursors, self._moved_cursors):
            cursor = cursors.get(symbol)
            if cursor is not None and cursor > position:
                return True
        return False

    def _quoted_beyond(self, work: _Working) -> bool:
        """Whether any stored applied quote of a held symbol may lie beyond the account's last event: the cursors
        (locked for the whole batch) are the latest applied quote of each symbol, so if none is later, none is."""
        last = work.last
        return any(
            (cursor := self._cursors.get(symbol)) is not None and (last is None or cursor > last)
            for symbol in work.risk.positions
        )

    async def _write(self, store: MonitoringStore, working: dict[uuid.UUID, _Working]) -> None:
        full, snapshots = [], []
        for work in working.values():
            if work.full_save:
                work.settle()  # a quiet quote after the batch's fill of the account: the row saves the state after it
                risk = work.risk
                kept = work.snapshots[-1] if work.snapshots else None
                # A fill's snapshot is the state to save when nothing was applied after it (the common case).
                saved = kept[2] if kept is not None and (kept[0], kept[1]) == work.last else risk.to_snapshot()
                work.saved_at = work.last
                full.append(
                    (
                        work.account.account_id,
                        saved,
                        risk.status.value,
                        sorted(risk.positions),
                        work.last[0],
                        work.last[1],
                        risk.next_boundary_at,
                    )
                )
            snapshots.extend((work.account, at, row, snap) for at, row, snap in work.snapshots)
        await store.save_states(full)
        await store.add_snapshots(snapshots)

    async def _send_live(self, live: list[tuple[str, dict]], working: dict[uuid.UUID, _Working]) -> None:
        moved = [w.figures() for w in working.values() if w.full_save or w.moved]
        await self._live.committed(live, moved)
