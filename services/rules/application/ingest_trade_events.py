"""IngestTradeEvents: store each platform event once, then apply it to the risk state of the account(s) it moves.

Each event is its own transaction: the raw event, the new risk state, the decisions, the outbox events and the
enforcement jobs commit together or not at all. Events of one account are serialised by a row lock on the account;
a quote locks every monitored account holding one of its symbols (in id order) and moves each.

Exchange-time order: an event is applied directly when it is not earlier than the last one applied (by exchange
time, then arrival); an earlier one re-evaluates the account from the last snapshot before it, replaying every
stored event since, through the same code path as live ingestion (risk_runner), so the state after any recovery
equals a replay of the stored events. Decisions found again by the re-evaluation add nothing (violations are
deduplicated, a failed or passed account is not reported twice).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.rules.application.catch_up_quotes import catch_up_quotes
from services.rules.application.current_risk import current_risk
from services.rules.application.incoming import CLOCK, QUOTE, TRADE, IncomingEvent
from services.rules.application.monitored_account import MONITORING, MonitoredAccount
from services.rules.application.ports import LiveNotices, MonitoringStore, UnitOfWorkFactory
from services.rules.application.record_decisions import record_decisions
from services.rules.application.risk_runner import StoredEvent, TakenDecision, apply_stored, replay
from services.rules.application.risk_states import restore
from services.rules.domain.account_risk import AccountRisk
from services.rules.domain.trade_events import TimePassed

log = logging.getLogger(__name__)

APPLIED = "applied"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"
RECORDED = "recorded"


@dataclass(frozen=True)
class IngestResult:
    provider_event_id: str
    outcome: str


def risk_figures(account: MonitoredAccount, risk: AccountRisk) -> dict:
    return {
        "type": "risk",
        "account_id": str(account.account_id),
        "status": risk.status.value,
        "balance": str(risk.balance),
        "equity": str(risk.equity),
        "floor": str(risk.floor),
        "as_of": None if risk.cursor is None else risk.cursor.isoformat(),
    }


class IngestTradeEventsHandler:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        notices: LiveNotices | None = None,
        on_enforcement: Callable[[], None] | None = None,
    ) -> None:
        self._uow = uow
        self._notices = notices
        self._on_enforcement = on_enforcement or (lambda: None)

    async def handle(self, events: Sequence[IncomingEvent]) -> list[IngestResult]:
        results: dict[int, IngestResult] = {}
        # Within a batch, exchange-time order (then the account's sequence) spares most re-evaluations.
        order = sorted(range(len(events)), key=lambda i: (events[i].at, events[i].sequence or 0))
        for index in order:
            event = events[index]
            outcome, live = await self._one(event)
            results[index] = IngestResult(event.provider_event_id, outcome)
            await self._send_live(live)
        return [results[i] for i in range(len(events))]

    async def _one(self, event: IncomingEvent) -> tuple[str, list[tuple[str, dict]]]:
        live: list[tuple[str, dict]] = []
        enforcement = False
        outcome = APPLIED
        async with self._uow() as uow:
            store = uow.store
            if event.event_type == QUOTE:
                row_id = await store.store_event(event, None, APPLIED)
                if row_id is None:
                    return DUPLICATE, live
                for account in await store.lock_holding(event.symbols, event.at):
                    enforcement |= await self._advance(store, account, event, row_id, live)
                # The accounts holding a symbol stand behind its cursor (ADR 0068); this quote was applied to each.
                await store.advance_cursors({symbol: (event.at, row_id) for symbol in event.symbols})
                await uow.commit()
            else:
                account = await store.lock_by_platform_id(event.platform_account_id, also=event.symbols)
                if account is None:
                    outcome = await self.quarantine(store, event)
                    await uow.commit()
                    return outcome, live
                applies = event.event_type == TRADE and account.status == MONITORING
                if applies and event.is_flatten_echo:
                    # The engine liquidated at the breach; the platform's own flatten fill must not reopen it.
                    held = {p["symbol"] for p in (account.snapshot or {}).get("positions", [])}
                    applies = event.fill.symbol in held
                outcome = APPLIED if applies else RECORDED
                row_id = await store.store_event(event, account.account_id, outcome)
                if row_id is None:
                    return DUPLICATE, live
                if applies:
                    enforcement = await self._advance(store, account, event, row_id, live)
                await uow.commit()
        if enforcement:
            self._on_enforcement()
        return outcome, live

    async def quarantine(self, store: MonitoringStore, event: IncomingEvent) -> str:
        """An event naming no monitored account: kept and reported, never dropped (DUPLICATE if seen before)."""
        if await store.is_known_event(event.provider_event_id):
            return DUPLICATE
        fresh = await store.quarantine(event, "no monitored account has this platform account id")
        if fresh:
            log.warning(
                "quarantined %s event %s for unknown platform account %s (sha256 %s)",
                event.event_type,
                event.provider_event_id,
                event.platform_account_id,
                event.payload_sha256,
            )
        return QUARANTINED if fresh else DUPLICATE

    async def _advance(
        self,
        store: MonitoringStore,
        account: MonitoredAccount,
        event: IncomingEvent,
        row_id: int,
        live: list[tuple[str, dict]],
    ) -> bool:
        risk, _ = await current_risk(store, account)
        status_before = risk.status
        stored = StoredEvent(row_id, event.provider_event_id, event.fill, event.marks, event.tick)
        last = (account.last_event_at, account.last_event_row) if account.last_event_at is not None else None
        late = last is not None and (event.at, row_id) < last
        if not late:
            if event.marks and not any(mark.symbol in risk.positions for mark in event.marks):
                return False  # in order and none of the quote's symbols held: nothing moves
            taken: list[TakenDecision] = apply_stored(risk, stored)
            last_at, last_row = event.at, row_id
            kept = None
            if event.fill is not None or event.tick is not None:
                kept = (last_at, last_row, risk.to_snapshot())
        else:
            risk, taken = await self.reevaluate(store, account, event, row_id, until=last)
            last_at, last_row = last
            kept = (last_at, last_row, risk.to_snapshot())
        if event.fill is not None or late:
            # The positions may have changed: quotes of a newly held symbol may lie beyond the last event. Each
            # event is its own transaction here, so the first row this one stored is its own.
            missed, (last_at, last_row), _ = await catch_up_quotes(
                store, account.account_id, risk, (last_at, last_row), stored_before=row_id
            )
            taken = [*taken, *missed]
        await store.save_state(
            account,
            risk.to_snapshot(),
            risk.status.value,
            sorted(risk.positions),
            last_at,
            last_row,
            risk.next_boundary_at,
        )
        if kept is not None:
            await store.add_snapshot(account, *kept)
        notices = await record_decisions(store, account, taken, status_before, version=row_id)
        user = account.user_id
        live.extend((user, notice) for notice in notices)
        live.append((user, risk_figures(account, risk)))
        return bool(taken)  # wake the enforcement worker: the decisions may have queued platform calls

    async def release_quarantined(
        self, store: MonitoringStore, account_id, parse: Callable[[dict], IncomingEvent]
    ) -> int:
        """Apply, in the caller's transaction, the events that arrived for this account before it was activated (the
        platform's webhooks can overtake challenges' AccountActivated). Returns how many were applied."""
        account = await store.get_account(account_id, for_update=True)
        if account is None:
            return 0
        released = [parse(row["payload"]) for row in await store.take_quarantined(account.platform_account_id)]
        applied = 0
        for event in sorted(released, key=lambda e: (e.at, e.sequence or 0)):
            applies = event.event_type == TRADE and account.status == MONITORING
            row_id = await store.store_event(event, account.account_id, APPLIED if applies else RECORDED)
            if row_id is None or not applies:
                continue
            await self._advance(store, account, event, row_id, [])
            account = await store.get_account(account_id, for_update=True)  # the state just saved
            applied += 1
        return applied

    async def tick(self, now: datetime, limit: int = 500) -> int:
        """Clock ticks: time passes for idle accounts whose next boundary (flat-by, EOD snapshot, day roll, lockout
        end) has come, so it fires on time rather than with the account's next event. A tick is stored like any
        event (type clock), so replays see it too. Returns how many accounts were ticked."""
        async with self._uow() as uow:
            due = await uow.store.due_for_tick(now, limit)
        ticked = 0
        for account_id in due:
            live: list[tuple[str, dict]] = []
            async with self._uow() as uow:
                store = uow.store
                account = await store.get_account(account_id, for_update=True)
                if account is None or account.status != MONITORING:
                    continue
                risk, _ = await current_risk(store, account)
                boundary = risk.next_boundary_at
                if boundary is None or boundary > now or (account.last_event_at and now < account.last_event_at):
                    continue  # ticked meanwhile, or an event already took it past now
                payload = {"type": CLOCK, "accountId": account.platform_account_id, "occurredAt": now.isoformat()}
                event = IncomingEvent(
                    provider_event_id=f"clock:{account_id}:{now.isoformat()}",
                    event_type=CLOCK,
                    platform_account_id=account.platform_account_id,
                    sequence=None,
                    at=now,
                    payload=payload,
                    payload_sha256=hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest(),
                    tick=TimePassed(at=now),
                )
                row_id = await store.store_event(event, account_id, APPLIED)
                if row_id is None:
                    continue
                acted = await self._advance(store, account, event, row_id, live)
                await uow.commit()
            ticked += 1
            if acted:
                self._on_enforcement()
            await self._send_live(live)
        return ticked

    async def reevaluate(
        self,
        store: MonitoringStore,
        account: MonitoredAccount,
        event: IncomingEvent,
        row_id: int,
        until: tuple,
    ) -> tuple[AccountRisk, list[TakenDecision]]:
        """Replay from the last snapshot before the late event up to the last event applied, nothing beyond."""
        base = await store.last_snapshot_before(account, event.at, row_id)
        if base is None:
            risk, after = restore(account, None), None
        else:
            snapshot, at, row = base
            risk, after = restore(account, snapshot), (at, row)
        await store.drop_snapshots_from(account, event.at, row_id)
        held = set(risk.positions)
        events = await store.events_for_replay(account.account_id, after, until, held)
        log.info(
            "late event %s for account %s: re-evaluating %d events",
            event.provider_event_id,
            account.account_id,
            len(events),
        )
        return risk, replay(risk, events)

    async def _send_live(self, live: list[tuple[str, dict]]) -> None:
        if self._notices is None:
            return
        from services.rules.application.live_risk import only_watched, presence_for

        # Risk figures only to watched traders (ADR 0069), sharing the batch path's presence lookup. Unlike the
        # batch path nothing is kept for a trader who connects before the next refresh: their next move brings it.
        any_risk = any(notice.get("type") == "risk" for _, notice in live)
        watched = await presence_for(self._notices).watched() if any_risk else None
        for user_id, notice in only_watched(live, watched):
            try:
                await self._notices.risk_updated(user_id, notice)
            except Exception:  # a live update is best effort: the state is committed and readable
                log.warning("live notice to user %s failed", user_id, exc_info=True)
