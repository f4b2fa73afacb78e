"""Group commit for IngestTradeEvents: concurrent callers' events processed together in one transaction.

Callers arriving while a batch is being processed queue up; the next batch takes up to `max_events` of their events
(never splitting one caller's request) once the first is `max_wait` seconds old or the queue holds `max_events`,
runs them through IngestBatchHandler in ONE transaction, and answers each caller with its own events' outcomes after
the commit. A lone caller on a quiet system waits no longer than `max_wait`.

If the batch's transaction fails (a deadlock with another replica, a bad event that breaks an invariant, a lost
connection), it was rolled back whole; every caller's request is then processed again on the per-event path, each
event in its own transaction, so one bad event fails only its own caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from services.rules.application.incoming import IncomingEvent
from services.rules.application.ingest_trade_events import IngestResult

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[IncomingEvent]], Awaitable[list[IngestResult]]]


class GroupCommit:
    def __init__(
        self,
        batch: Handler,
        per_event: Handler,
        *,
        max_events: int = 256,
        max_wait: float = 0.010,
        workers: int = 1,
    ) -> None:
        self._batch = batch
        self._per_event = per_event
        self._max_events = max_events
        self._max_wait = max_wait
        self._workers = workers
        self._queue: deque[tuple[Sequence[IncomingEvent], asyncio.Future]] = deque()
        self._queued_events = 0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.batches = 0
        self.batched_events = 0
        self.fallbacks = 0

    async def submit(self, events: Sequence[IncomingEvent]) -> list[IngestResult]:
        if not events:
            return []
        self._start()
        future = asyncio.get_running_loop().create_future()
        self._queue.append((events, future))
        self._queued_events += len(events)
        self._arrived.set()
        if self._queued_events >= self._max_events:
            self._full.set()
        return await future

    def _start(self) -> None:
        self._tasks = [task for task in self._tasks if not task.done()]
        while len(self._tasks) < self._workers:
            self._tasks.append(asyncio.create_task(self._work(), name="rules-group-commit"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            while not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            if self._queued_events < self._max_events and self._max_wait > 0:
                self._full.clear()
                try:
                    await asyncio.wait_for(self._full.wait(), self._max_wait)
                except TimeoutError:
                    pass
            taken = self._take()
            if taken:
                await self._process(taken)

    def _take(self) -> list[tuple[Sequence[IncomingEvent], asyncio.Future]]:
        taken, count = [], 0
        while self._queue and (not taken or count + len(self._queue[0][0]) <= self._max_events):
            events, future = self._queue.popleft()
            self._queued_events -= len(events)
            if future.done():  # the caller gave up (deadline): nobody waits for these, and none was stored
                continue
            taken.append((events, future))
            count += len(events)
        return taken

    async def _process(self, taken: list[tuple[Sequence[IncomingEvent], asyncio.Future]]) -> None:
        flat = [event for events, _ in taken for event in events]
        try:
            results = await self._batch(flat)
        except Exception:
            self.fallbacks += 1
            log.warning("a batch of %d events failed; processing them one by one", len(flat), exc_info=True)
            await asyncio.gather(*(self._one_by_one(events, future) for events, future in taken))
            return
        self.batches += 1
        self.batched_events += len(flat)
        start = 0
        for events, future in taken:
            if not future.done():
                future.set_result(results[start : start + len(events)])
            start += len(events)

    async def _one_by_one(self, events: Sequence[IncomingEvent], future: asyncio.Future) -> None:
        try:
            results = await self._per_event(events)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(results)
