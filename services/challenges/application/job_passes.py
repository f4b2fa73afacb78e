"""How the background jobs that work in batches (subscription billing, the platform credentials sweep) pace
themselves: one place, so they survive a failed pass and drain a backlog the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def run_passes(
    run_once: Callable[[], Awaitable[int]],
    stopping: asyncio.Event,
    *,
    batch_size: int,
    poll_seconds: float,
    log: logging.Logger,
    failure: str,
) -> None:
    """Pass after pass until `stopping` is set. `run_once` answers how many items it found due: a full batch means
    more are due (a renewal day's failures, a week of reveals), so the next pass starts at once; otherwise the job
    waits for the poll or the stop, whichever comes first."""
    while not stopping.is_set():
        try:
            due = await run_once()
        except Exception:  # the job must outlive a database blip
            log.exception(failure)
            due = 0
        if due >= batch_size:
            continue
        try:
            await asyncio.wait_for(stopping.wait(), timeout=poll_seconds)
        except TimeoutError:
            pass
