"""Group commit for IngestTradeEvents: concurrent callers' events processed together in one transaction.

Callers arriving while a batch is being processed queue up; the next batch takes up to `max_events` of their events
(never splitting one caller's request) once the first is `max_wait` seconds old or the queue holds `max_events`,
runs them through IngestBatchHandler in ONE transaction, and answers each caller with its own events' outcomes after
the commit. A lone caller on a quiet system waits no longer than `max_wait`.

With a `hold_back` (ADR 0067) a batch is cut by arrival time as well: only requests that have been queued for at
least `hold_back` seconds are eligible, and an eligible request whose earliest exchange time is later than the
earliest exchange time of any request still too young stays queued too, so an event that arrives a few milliseconds
after later ones (another client process, another connection) is sorted with them in the same batch instead of
arriving late for its account. No request waits longer than 2 x `hold_back` after its arrival: past that it goes
regardless. `hold_back = 0` cuts exactly as without it.

Under a backlog (more eligible events than one batch takes) the batch takes the requests with the earliest exchange
times first rather than the oldest arrivals (ADR 0071): what stays queued is then later than what commits, instead of
arriving late for its accounts, and a caller that fell behind the others is answered first and catches up.

If the batch's transaction fails (a deadlock with another replica, a bad event that breaks an invariant, a lost
connection), it was rolled back whole; every caller's request is then processed again on the per-event path, each
event in its own transaction, so one bad event fails only its own caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import trace

from services.rules.application.incoming import IncomingEvent
from services.rules.application.ingest_trade_events import IngestResult

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

# Under a backlog a batch takes the earliest exchange times first, except that a request queued this long goes before
# any: a request stamped far ahead of the others is delayed, never starved.
OVERDUE_SECONDS = 1.0

Handler = Callable[[Sequence[IncomingEvent]], Awaitable[list[IngestResult]]]


@dataclass(slots=True)
class _Request:
    events: Sequence[IncomingEvent]
    future: asyncio.Future
    arrived: float  # time.monotonic() at submit
    earliest: datetime  # the earliest exchange time among the events


class GroupCommit:
    def __init__(
        self,
        batch: Handler,
        per_event: Handler,
        *,
        max_events: int = 256,
        max_wait: float = 0.010,
        workers: int = 1,
        hold_back: float = 0.0,
    ) -> None:
        self._batch = batch
        self._per_event = per_event
        self._max_events = max_events
        self._max_wait = max_wait
        self._workers = workers
        self._hold_back = max(hold_back, 0.0)
        # In arrival order: submit appends with a monotonic clock and _take puts back what it leaves in order.
        self._queue: deque[_Request] = deque()
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
        self._queue.append(_Request(events, future, time.monotonic(), min(event.at for event in events)))
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
            taken, wake_at = self._take()
            while not taken and wake_at is not None:
                # Everything queued is held back. Only time releases it (a new arrival can only hold back more),
                # so sleep until the next request becomes eligible or reaches its 2 x hold_back bound.
                await asyncio.sleep(max(wake_at - time.monotonic(), 0.0))
                taken, wake_at = self._take()
            if taken:
                await self._process(taken)

    def _take(self) -> tuple[list[_Request], float | None]:
        """The next batch, and if it is empty while requests are held back, when to look again."""
        now, hold_back = time.monotonic(), self._hold_back
        young_from = len(self._queue)  # the queue is in arrival order, so the too young are a suffix of it
        earliest_young: datetime | None = None
        if hold_back > 0:
            while young_from > 0 and now - self._queue[young_from - 1].arrived < hold_back:
                young_from -= 1
                request = self._queue[young_from]
                if not request.future.done() and (earliest_young is None or request.earliest < earliest_young):
                    earliest_young = request.earliest
        eligible: list[_Request] = []
        held: list[_Request] = []
        for _ in range(young_from):
            request = self._queue.popleft()
            if request.future.done():  # the caller gave up (deadline): nobody waits for these, and none was stored
                self._queued_events -= len(request.events)
                continue
            if (
                earliest_young is not None
                and request.earliest > earliest_young
                and now - request.arrived < 2 * hold_back
            ):
                held.append(request)  # an earlier event arrived after it: wait for it to become eligible too
                continue
            eligible.append(request)
        if sum(len(request.events) for request in eligible) > self._max_events:
            # A backlog: more is waiting than one batch takes. The earliest exchange times go first (a request
            # waiting longer than OVERDUE_SECONDS before any), so what stays queued is later than what commits now
            # and does not arrive late for its accounts; and a caller that fell behind is answered first, so it
            # catches up instead of drifting further behind the others.
            eligible.sort(key=lambda request: (now - request.arrived < OVERDUE_SECONDS, request.earliest))
        taken: list[_Request] = []
        count = 0
        for n, request in enumerate(eligible):
            if taken and count + len(request.events) > self._max_events:
                held.extend(eligible[n:])
                break
            self._queued_events -= len(request.events)
            taken.append(request)
            count += len(request.events)
        held.sort(key=lambda request: request.arrived)  # the queue stays in arrival order
        self._queue.extendleft(reversed(held))
        if taken or not self._queue:
            return taken, None
        # Nothing to take: the queue is the held requests, then the too young ones.
        wake_at = [self._queue[0].arrived + (2 * hold_back if held else hold_back)]
        if len(self._queue) > len(held):
            wake_at.append(self._queue[len(held)].arrived + hold_back)
        return taken, min(wake_at)

    async def _process(self, taken: list[_Request]) -> None:
        flat = [event for request in taken for event in request.events]
        try:
            # One span per batch: at thousands of calls a second the calls themselves are not traced one by one.
            with _tracer.start_as_current_span(
                "rules.ingest_batch", attributes={"rules.batch.events": len(flat), "rules.batch.callers": len(taken)}
            ):
                results = await self._batch(flat)
        except Exception:
            self.fallbacks += 1
            log.warning("a batch of %d events failed; processing them one by one", len(flat), exc_info=True)
            await asyncio.gather(*(self._one_by_one(request.events, request.future) for request in taken))
            return
        self.batches += 1
        self.batched_events += len(flat)
        start = 0
        for request in taken:
            if not request.future.done():
                request.future.set_result(results[start : start + len(request.events)])
            start += len(request.events)

    async def _one_by_one(self, events: Sequence[IncomingEvent], future: asyncio.Future) -> None:
        try:
            results = await self._per_event(events)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(results)
