"""Garbage-collector settings for a latency-sensitive process.

CPython's cyclic collector stops the process while it traverses a generation. A service that keeps many long-lived
objects (the rules service's cached account states and their event windows) pays for each full traversal as a
pause of tens to hundreds of milliseconds, which is what its p99 sees: measured on the monitoring benchmark at
400 events/s, p99 event-to-decision was 217 ms with the default thresholds, 69 ms with the collector off and 89 ms
with the thresholds below (docs/performance.md). Reference counting still frees every object that is not in a
cycle at once; only cycles wait longer.
"""

from __future__ import annotations

import gc


def tune_for_latency(young_threshold: int) -> None:
    """Collect the young generation every `young_threshold` allocations (Python's default is 700) and the older
    ones rarely; objects alive now (modules, settings, the wiring) are moved out of the collector's sight for good.
    0 keeps Python's defaults."""
    if young_threshold <= 0:
        return
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 1000)
