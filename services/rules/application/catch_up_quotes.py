"""Catch up the stored quotes an account missed because it did not hold their symbol when they arrived (ADR 0061).

A quote moves the accounts holding its symbols when it is ingested. A fill that arrives after a quote of its symbol
with a LATER exchange time (in order for its account, or late and re-evaluated) can leave the account holding that
symbol at a point before the quote, yet the quote never reached the position, while a replay of the stored events
in (exchange time, row) order applies it. So whenever the positions may have changed (an in-order fill, a
re-evaluation), the stored applied quotes of the held symbols later than the account's new last event, stored
before this transaction's own events, are applied now, through the same risk_runner as every replay.

Why exactly those, so that the state equals what events_for_replay gives:
- after every transaction no stored quote of a held symbol lies beyond the account's last event (it was applied
  and moved the last event, or it is caught up here), and nothing of the account lies beyond its last event; so
  the quotes found are exactly the events a replay applies after the last one, in the same order;
- quotes stored by this transaction (later events of the same batch) are applied by the caller in their own turn;
- `coalesced` quotes and the account's excluded events are skipped, as replays skip them.
An event of the account arriving later inside the caught-up range is late and re-evaluates from a snapshot at or
before the last event, which is why the caller keeps its snapshot at that event, not after the caught-up quotes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.rules.application.ports import MonitoringStore
from services.rules.application.risk_runner import StoredEvent, TakenDecision, replay
from services.rules.domain.account_risk import AccountRisk


async def catch_up_quotes(
    store: MonitoringStore,
    account_id: uuid.UUID,
    risk: AccountRisk,
    last: tuple[datetime, int],
    stored_before: int,
) -> tuple[list[TakenDecision], tuple[datetime, int], list[StoredEvent]]:
    """Apply to `risk`, in place, the quotes it missed after `last`; `stored_before` is the first row this
    transaction stored. Returns the decisions taken, the position the state now describes and the quotes applied
    (in order)."""
    if not risk.positions:
        return [], last, []
    missed = sorted(
        await store.quotes_after(account_id, sorted(risk.positions), last, stored_before),
        key=lambda e: (e.at, e.row_id),
    )
    if not missed:
        return [], last, []
    return replay(risk, missed), max(last, *((quote.at, quote.row_id) for quote in missed)), missed
