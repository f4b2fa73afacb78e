"""An account's current risk state: its stored snapshot plus the quotes applied to it since (ADR 0061).

A quote that decides nothing for an account does not rewrite the account's snapshot; it only moves the row's last
event. So the current state is the snapshot (which describes saved_event) with the stored applied quotes of its held
symbols in (saved_event, last_event] replayed through risk_runner, the function live ingestion uses: no fill lies in
that range (a fill always saves), so the positions, and with them the quotes that apply, are those of the snapshot.
"""

from __future__ import annotations

from services.rules.application.monitored_account import MonitoredAccount
from services.rules.application.ports import MonitoringStore
from services.rules.application.risk_runner import StoredEvent, replay
from services.rules.application.risk_states import restore
from services.rules.domain.account_risk import AccountRisk


async def current_risk(
    store: MonitoringStore, account: MonitoredAccount, snapshot: dict | None = None
) -> tuple[AccountRisk, list[StoredEvent]]:
    """(the state after the account's last event, the stored quotes replayed onto its snapshot for it, in order)."""
    risk = restore(account, account.snapshot if snapshot is None else snapshot)
    saved, last = account.saved_position, account.last_position
    if saved is None or last is None or saved >= last:
        return risk, []
    events = sorted(
        await store.events_for_replay(account.account_id, saved, last, set(risk.positions)),
        key=lambda e: (e.at, e.row_id),
    )
    replay(risk, events)
    return risk, events
