"""Aggregate: a consistency boundary that records the domain events its changes cause."""

from __future__ import annotations

from libs.domain.events import DomainEvent


class Aggregate:
    """Subclasses keep `version` (for optimistic checks) and call `_record_event` when something happens.

    The unit of work collects the recorded events of every aggregate it has seen and writes them to the outbox in
    the same transaction as the change (never after the commit, never from a repository's save).
    """

    version: int

    def __init__(self) -> None:
        self._events: list[DomainEvent] = []

    @property
    def aggregate_id(self) -> str:
        raise NotImplementedError

    def _record_event(self, event: DomainEvent) -> None:
        self._events.append(event)

    def pull_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events
