"""The quotes this process applied, per symbol, kept so that a late fill is re-evaluated in memory (ADR 0071).

A fill that arrives after later quotes of its symbol can make the account hold the symbol at quotes it never saw
(it was flat then): the re-evaluation must apply them. They used to be read back from the stored events, one round
trip per late fill inside the batch, which under load is what made lateness feed on itself. The log answers from
memory instead, but only where it knows it is complete:

- it holds every applied quote of a symbol after `complete_after` (None: every one ever applied);
- it is trusted for a symbol only while the cursor's count of quote-writing transactions is the count the group
  commit's own last write left (`validate`, under the cursors' lock): a quote applied by another replica or by the
  per-event path, late or not, changes the count, and the symbol's log restarts empty, complete after the cursor;
- a batch that fails leaves nothing: `forget()` drops every symbol (the rolled-back quotes may be in it);
- it keeps at most `depth` quotes per symbol, the oldest dropped first (complete_after moves past them).
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Mapping
from datetime import datetime

from services.rules.application.risk_runner import StoredEvent

Position = tuple[datetime, int]

DEPTH = 512  # quotes kept per symbol: at several quotes a second, minutes of lateness


def _position(event: StoredEvent) -> Position:
    return (event.at, event.row_id)


class QuoteLog:
    def __init__(self, depth: int = DEPTH) -> None:
        self._depth = depth
        self._quotes: dict[str, list[StoredEvent]] = {}
        self._complete_after: dict[str, Position | None] = {}
        self._writes: dict[str, int] = {}  # the count each symbol's cursor had after our last write

    def validate(self, cursors: Mapping[str, Position], writes: Mapping[str, int]) -> None:
        """Under the cursors' lock: each symbol whose count is not ours restarts, complete after its cursor."""
        for symbol, count in writes.items():
            if self._writes.get(symbol) != count:
                self._quotes[symbol] = []
                self._complete_after[symbol] = cursors.get(symbol)
                self._writes[symbol] = count

    def wrote(self, writes: Mapping[str, int]) -> None:
        """The counts the batch's own cursor writes left (valid from its commit on)."""
        self._writes.update(writes)

    def forget(self) -> None:
        """Nothing is known any more: the next batch restarts every symbol."""
        self._quotes.clear()
        self._complete_after.clear()
        self._writes.clear()

    def add(self, symbol: str, quote: StoredEvent) -> None:
        """An applied quote of `symbol` (of a symbol the log was validated for in this batch)."""
        quotes = self._quotes.get(symbol)
        if quotes is None:
            return  # never validated: not trusted, so not kept
        if not quotes or _position(quotes[-1]) < _position(quote):
            quotes.append(quote)
        else:
            insort(quotes, quote, key=_position)
        if len(quotes) > self._depth:
            dropped = quotes.pop(0)
            self._complete_after[symbol] = _position(dropped)

    def after(self, symbol: str, position: Position) -> list[StoredEvent] | None:
        """Every applied quote of `symbol` after `position`, in order; None if the log cannot know them all."""
        if symbol not in self._quotes:
            return None
        complete_after = self._complete_after[symbol]
        if complete_after is not None and position < complete_after:
            return None
        quotes = self._quotes[symbol]
        return quotes[bisect_right(quotes, position, key=_position) :]
