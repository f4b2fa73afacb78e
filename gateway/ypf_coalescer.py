"""Concurrent YourPropFirm webhook deliveries coalesced into one rules.IngestTradeEvents call (ADR 0070).

The webhook route verifies each delivery (signature, timestamp, Redis seen-mark) and hands its event to
`WebhookCoalescer.ingest`, which queues it. A group is sent as ONE IngestTradeEventsRequest as soon as its first event
has waited `max_wait` seconds or `max_events` are queued, whichever comes first; each delivery awaits its own
IngestResult (the reply carries one result per event, in request order). Sending a group does not wait for the
previous one: several calls can be in flight at once, as separate deliveries were before.

- `max_wait` 0: no queue at all, each event is one call with its own metadata from the caller's task (the route as
  it was before coalescing).
- Metadata: a group's call carries the first delivery's metadata (`gateway.client.call_metadata`), so the rules
  service logs the whole call under the first delivery's request id (the group's id). The request ids of every
  delivery in the group are logged here, one DEBUG line per call, under that group id.
- Failure isolation: the rules service refuses a WHOLE request if one event is refused (INVALID_ARGUMENT for a
  malformed event, PERMISSION_DENIED for a bad signature, FAILED_PRECONDITION). When a group of more than one event
  is refused with one of those, each event is sent again alone from its own delivery's task, with its own metadata,
  so each delivery gets its own answer: the good ones their outcome, the bad one the refusal it would have had alone.
  Any other failure (UNAVAILABLE, DEADLINE_EXCEEDED, ...) is every delivery's error: the route removes each seen-mark
  and the platform retries each delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from libs.platform.logging import REQUEST_ID_HEADER, request_id_var

log = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str]]
# Statuses with which the rules service refuses a whole request because of what one event in it is: worth sending
# each event of the group alone. Anything else is about the call, not the events, and is everyone's answer.
REQUEST_REFUSALS = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION}
)
# The rules servicer takes at most this many events per call (services/rules/adapters/grpc/servicer.MAX_BATCH).
RULES_MAX_BATCH = 1000
_ALONE = object()  # a delivery's answer that says: send your event again on its own


@dataclass(slots=True)
class _Delivery:
    event: Any  # dynasty.rules.v1.PlatformEvent
    metadata: Metadata
    request_id: str
    answer: asyncio.Future = field(repr=False)


class WebhookCoalescer:
    """One per gateway process (app.state.ypf_coalescer), around the rules service's stub.

    `timeout` is each call's deadline (the gateway's upstream timeout). Counters: `calls` (IngestTradeEvents calls
    made, fallback singles included), `events` (events those calls carried), `fallbacks` (refused groups split).
    """

    def __init__(self, stub, *, max_wait: float, max_events: int = 200, timeout: float | None = None) -> None:
        if max_wait < 0:
            raise ValueError("max_wait must be 0 (no coalescing) or more")
        if not 1 <= max_events <= RULES_MAX_BATCH:
            raise ValueError(f"max_events must be between 1 and {RULES_MAX_BATCH}")
        from dynasty.rules.v1 import rules_service_pb2 as pb

        self._request = pb.IngestTradeEventsRequest
        self._stub = stub
        self.max_wait = max_wait
        self.max_events = max_events
        self.timeout = timeout
        self._pending: list[_Delivery] = []
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Task] = set()
        self._closed = False
        self.calls = 0
        self.events = 0
        self.fallbacks = 0

    async def ingest(self, event, metadata: Metadata = ()):
        """This event's IngestResult; raises the call's grpc.aio.AioRpcError when the rules service fails it."""
        if self.max_wait <= 0:
            return (await self._call([event], metadata)).results[0]
        if self._closed:
            raise RuntimeError("the webhook coalescer is closed")
        loop = asyncio.get_running_loop()
        delivery = _Delivery(event, metadata, _request_id(metadata), loop.create_future())
        self._pending.append(delivery)
        if len(self._pending) >= self.max_events:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait, self._flush)
        answer = await delivery.answer
        if answer is _ALONE:
            return (await self._call([event], metadata)).results[0]
        return answer

    async def aclose(self) -> None:
        """Send what is queued and wait for every call in flight (each bounded by `timeout`)."""
        self._closed = True
        self._flush()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self._pending = self._pending, []
        if group:
            task = asyncio.get_running_loop().create_task(self._send(group))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _call(self, events: list, metadata: Metadata):
        self.calls += 1
        self.events += len(events)
        return await self._stub.IngestTradeEvents(self._request(events=events), timeout=self.timeout, metadata=metadata)

    async def _send(self, group: list[_Delivery]) -> None:
        group_id = group[0].request_id
        request_id_var.set(group_id)  # this task's own context: its log lines carry the group's id
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "IngestTradeEvents: %d webhook event(s) in one call as request %s, carrying requests %s",
                len(group),
                group_id,
                ",".join(d.request_id for d in group),
            )
        try:
            reply = await self._call([d.event for d in group], group[0].metadata)
        except grpc.aio.AioRpcError as exc:
            if len(group) > 1 and exc.code() in REQUEST_REFUSALS:
                self.fallbacks += 1
                log.info(
                    "IngestTradeEvents refused a group of %d events (%s): sending each alone", len(group), exc.code()
                )
                _settle(group, lambda _delivery: _ALONE)
            else:
                _fail(group, exc)
            return
        except BaseException as exc:  # a bug or a cancelled task: no delivery may wait forever
            _fail(group, exc)
            if not isinstance(exc, Exception):
                raise
            return
        if len(reply.results) != len(group):
            log.error("IngestTradeEvents answered %d results for %d events", len(reply.results), len(group))
            details = f"the rules service answered {len(reply.results)} results for {len(group)} events"
            _fail(
                group, grpc.aio.AioRpcError(grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(), details)
            )
            return
        results = iter(reply.results)
        _settle(group, lambda _delivery: next(results))


def _request_id(metadata: Metadata) -> str:
    for key, value in metadata:
        if key == REQUEST_ID_HEADER:
            return value
    return request_id_var.get()


def _settle(group: list[_Delivery], answer) -> None:
    for delivery in group:
        value = answer(delivery)  # drawn for every delivery, so results stay aligned with the group's order
        if not delivery.answer.done():  # a delivery whose caller went away (client disconnected) is skipped
            delivery.answer.set_result(value)


def _fail(group: list[_Delivery], exc: BaseException) -> None:
    for delivery in group:
        if not delivery.answer.done():
            if isinstance(exc, asyncio.CancelledError):
                delivery.answer.cancel()
            else:
                delivery.answer.set_exception(exc)
