"""Quote coalescing within one batch (ADR 0062): bound a quote's fan-out without hiding a breach.

A quote moves every account holding its symbol, so a burst of quotes of one symbol costs accounts x quotes engine
runs. Within a batch, per symbol and between two fills of that symbol, only these quotes are applied (in time order):
the lowest, the highest, the last, and the two ends of the deepest fall and of the highest rise. For an account holding
that one symbol, equity is monotonic in the price, so the lowest price gives the lowest equity a long position saw
and the highest the lowest a short saw (and the highest equity, which sets a trailing high-water mark); a trailing
floor is broken by a fall after a peak (a rise after a trough for a short), the widest of which is kept too. So a
breach one of the skipped quotes would have caused is caused by a kept one, at the same quote or a later one of
the same batch (milliseconds later, at a price at least as bad), and never earlier: with fewer quotes applied the
high-water mark is never higher. A fill of the symbol ends the run, because the position changes there.

The skipped quotes are stored with outcome `coalesced`, and every replay (re-evaluation, recovery, what-if) reads
only `applied` quotes: a replay applies exactly the quotes live ingestion applied, so recovery still equals replay.

The trade-off, written down in ADR 0062: an account holding two of the quoted symbols could see, between two kept
quotes, a combination of intermediate prices that no kept quote reproduces; such a breach is decided at the next
kept quote if it persists (at the latest the batch's last quote, a few milliseconds later).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.rules.application.incoming import QUOTE, TRADE, IncomingEvent

COALESCED = "coalesced"


def coalesce_quotes(events: Sequence[tuple[int, IncomingEvent]]) -> set[int]:
    """The indices of the quotes to apply, given a batch's events in the order they will be applied."""
    kept: set[int] = set()
    runs: dict[str, list[tuple[int, object]]] = {}  # symbol -> (index, price) of its quotes since its last fill

    def close(symbol: str) -> None:
        run = runs.pop(symbol, [])
        if not run:
            return
        kept.add(min(run, key=lambda item: item[1])[0])  # min/max keep the earliest of equal prices
        kept.add(max(run, key=lambda item: (item[1], -item[0]))[0])
        kept.add(run[-1][0])
        kept.update(_widest_swings(run))

    for index, event in events:
        if event.event_type == TRADE and event.fill is not None:
            close(event.fill.symbol)
        elif event.event_type == QUOTE:
            for mark in event.marks:
                runs.setdefault(mark.symbol, []).append((index, mark.price))
    for symbol in list(runs):
        close(symbol)
    return kept


def _widest_swings(run: list[tuple[int, object]]) -> set[int]:
    """The peak and later trough of the run's deepest fall, and the trough and later peak of its highest rise: a
    trailing floor follows the highest equity so far, so what breaches it is a fall after a peak (a rise after a
    trough for a short), which the run's lowest and highest prices alone need not contain."""
    fall = rise = (0, 0, 0)  # (size, from index, to index)
    top = bottom = run[0]
    for item in run:
        if item[1] > top[1]:
            top = item
        if item[1] < bottom[1]:
            bottom = item
        if top[1] - item[1] > fall[0]:
            fall = (top[1] - item[1], top[0], item[0])
        if item[1] - bottom[1] > rise[0]:
            rise = (item[1] - bottom[1], bottom[0], item[0])
    return {index for size, *ends in (fall, rise) if size for index in ends}
