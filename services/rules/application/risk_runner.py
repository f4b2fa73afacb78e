"""Drive the engine with stored platform events, the same way live and in a replay.

One rule decides what a quote does to an account, live and in every replay: each of its marks applies only while
the account holds that symbol. Because live ingestion and re-evaluation share this function, the state after any
recovery equals a replay of the stored events in (exchange time, arrival) order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.rules.domain.account_risk import AccountRisk
from services.rules.domain.decisions import Decision
from services.rules.domain.trade_events import Fill, Mark, TimePassed


@dataclass(frozen=True)
class StoredEvent:
    """A stored event as the engine needs it: its row (arrival order), provider id and what it carries."""

    row_id: int
    provider_event_id: str
    fill: Fill | None
    marks: tuple[Mark, ...]
    tick: TimePassed | None = None

    @property
    def at(self):
        if self.fill is not None:
            return self.fill.at
        return self.tick.at if self.tick is not None else self.marks[0].at


@dataclass(frozen=True)
class TakenDecision:
    decision: Decision
    provider_event_id: str
    row_id: int


def apply_stored(risk: AccountRisk, event: StoredEvent) -> list[TakenDecision]:
    taken: list[TakenDecision] = []
    single = event.fill if event.fill is not None else event.tick
    if single is not None:
        for decision in risk.apply(single):
            taken.append(TakenDecision(decision, event.provider_event_id, event.row_id))
        return taken
    for mark in event.marks:
        if mark.symbol in risk.positions:
            for decision in risk.apply(mark):
                taken.append(TakenDecision(decision, event.provider_event_id, event.row_id))
    return taken


def replay(risk: AccountRisk, events: Iterable[StoredEvent]) -> list[TakenDecision]:
    taken: list[TakenDecision] = []
    for event in sorted(events, key=lambda e: (e.at, e.row_id)):
        taken.extend(apply_stored(risk, event))
    return taken
