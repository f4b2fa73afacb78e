"""The group commit's reorder hold-back (ADR 0067): a request that arrived less than `hold_back` ago is not cut into
a batch, nor is an older one whose earliest exchange time is later than such a young one's, so events that arrive a
few milliseconds out of exchange-time order are sorted in one batch; nothing waits longer than 2 x `hold_back`.

Pure asyncio, no database: the batch handler is a fake that records the batches it is given, and when."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from services.rules.application.group_commit import GroupCommit
from services.rules.application.incoming import QUOTE, IncomingEvent
from services.rules.application.ingest_trade_events import IngestResult

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
EARLY = 1e-6  # asyncio may fire a timer up to the clock's resolution early


def events(*ms: int) -> list[IncomingEvent]:
    """One event per exchange time, `ms` milliseconds after T0, named e<ms>."""
    return [IncomingEvent(f"e{n}", QUOTE, None, None, T0 + timedelta(milliseconds=n), {}, "") for n in ms]


class Recorder:
    """A batch handler recording each batch (its events' names) and the monotonic time it was called."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.times: list[float] = []

    async def __call__(self, batch: Sequence[IncomingEvent]) -> list[IngestResult]:
        self.batches.append([event.provider_event_id for event in batch])
        self.times.append(time.monotonic())
        await asyncio.sleep(0)
        return [IngestResult(event.provider_event_id, "applied") for event in batch]

    def time_of(self, name: str) -> float:
        return next(t for t, batch in zip(self.times, self.batches, strict=True) if name in batch)


async def per_event(batch: Sequence[IncomingEvent]) -> list[IngestResult]:
    raise AssertionError("no batch fails here, so nothing goes one by one")


def names(answer: list[IngestResult]) -> list[str]:
    return [result.provider_event_id for result in answer]


async def test_two_requests_five_ms_apart_in_reverse_exchange_order_land_in_one_batch():
    recorder = Recorder()
    group = GroupCommit(recorder, per_event, max_wait=0.001, hold_back=0.020)
    cuts, cut = 0, asyncio.Event()
    take = group._take

    def counted_take():
        nonlocal cuts
        cuts += 1
        cut.set()
        return take()

    group._take = counted_take
    try:
        start = time.monotonic()
        later = asyncio.create_task(group.submit(events(100)))
        await asyncio.wait_for(cut.wait(), 1)  # the worker lingered 1 ms and cut: e100 was too young to go
        assert recorder.batches == []
        await asyncio.sleep(start + 0.005 - time.monotonic())
        earlier = asyncio.create_task(group.submit(events(99)))
        answers = await asyncio.gather(later, earlier)
    finally:
        await group.stop()

    assert recorder.batches == [["e100", "e99"]]  # one batch, which the batch handler sorts by exchange time
    assert [names(answer) for answer in answers] == [["e100"], ["e99"]]
    # e100 was eligible at 20 ms and held for e99 (earlier exchange time, arrived after it) until e99 was, at 25 ms.
    assert recorder.times[0] - start >= 0.025 - EARLY
    # The worker slept until each deadline instead of polling: the cut after the linger, at 20 ms, at 25 ms.
    assert cuts <= 5


async def test_without_hold_back_the_first_batch_is_cut_after_max_wait_as_before():
    recorder = Recorder()
    group = GroupCommit(recorder, per_event, max_wait=0.010)  # hold_back defaults to 0
    try:
        start = time.monotonic()
        later = asyncio.create_task(group.submit(events(100)))
        await asyncio.sleep(0.040)
        first_cut = list(recorder.batches)
        earlier = asyncio.create_task(group.submit(events(99)))
        together = [asyncio.create_task(group.submit(events(n))) for n in (98, 97)]
        answers = await asyncio.gather(later, earlier, *together)
    finally:
        await group.stop()

    # e100 alone, cut once it had waited max_wait (not held for anything), before e99 arrived; then the next three,
    # which arrived together, in one batch after the linger.
    assert first_cut == [["e100"]]
    assert recorder.times[0] - start >= 0.010 - EARLY
    assert recorder.batches == [["e100"], ["e99", "e98", "e97"]]
    assert [names(answer) for answer in answers] == [["e100"], ["e99"], ["e98"], ["e97"]]


async def test_a_request_goes_after_twice_the_hold_back_while_earlier_events_keep_arriving():
    recorder = Recorder()
    hold_back = 0.040
    group = GroupCommit(recorder, per_event, max_wait=0.001, hold_back=hold_back)
    submitted: dict[str, float] = {}
    tasks = []
    first_done_during_stream = False
    try:
        # Every 10 ms a request whose exchange time is earlier than all before it, for 200 ms: each arrives while
        # an earlier-arrived one is eligible, so without the bound nothing would ever go.
        for i in range(21):
            submitted[f"e{1000 - i}"] = time.monotonic()
            tasks.append(asyncio.create_task(group.submit(events(1000 - i))))
            await asyncio.sleep(0.010)
            first_done_during_stream = first_done_during_stream or (tasks[0].done() and i < 20)
        answers = await asyncio.gather(*tasks)
    finally:
        await group.stop()

    assert first_done_during_stream  # e1000 was answered while later-arriving, earlier events still came
    assert sorted(name for batch in recorder.batches for name in batch) == sorted(submitted)
    assert [names(answer) for answer in answers] == [[name] for name in submitted]
    waited = {name: recorder.time_of(name) - at for name, at in submitted.items()}
    assert waited["e1000"] >= 2 * hold_back - EARLY  # held past hold_back: younger, earlier events were waiting
    # And never much past the bound (generous: the machine may be busy), including the last, which nothing held.
    assert max(waited.values()) < 2 * hold_back + 0.060
    assert recorder.batches[0] == ["e1000"]  # it went alone: the others were held back by still younger ones


async def test_a_caller_that_gave_up_is_not_processed_and_holds_nothing_back():
    recorder = Recorder()
    group = GroupCommit(recorder, per_event, max_wait=0.001, hold_back=0.100)
    try:
        start = time.monotonic()
        kept = asyncio.create_task(group.submit(events(10)))
        await asyncio.sleep(0.050)
        gave_up = asyncio.create_task(group.submit(events(5)))  # earlier exchange time: would hold e10 to 150 ms
        await asyncio.sleep(0.001)
        gave_up.cancel()
        answer = await kept
        with pytest.raises(asyncio.CancelledError):
            await gave_up

        # A request cancelled while it is held back (eligible, waiting for a younger, earlier one) is dropped too.
        held = asyncio.create_task(group.submit(events(30)))
        await asyncio.sleep(0.050)
        younger = asyncio.create_task(group.submit(events(25)))
        await asyncio.sleep(0.070)  # held is 120 ms old: eligible, held for younger (70 ms) until 150 ms
        assert not held.done()
        held.cancel()
        assert names(await younger) == ["e25"]
    finally:
        await group.stop()

    assert names(answer) == ["e10"]
    assert recorder.batches == [["e10"], ["e25"]]
    assert recorder.times[0] - start < 0.140  # at 100 ms, not when the cancelled request would have been eligible


@pytest.mark.parametrize("hold_back", [0.0, 0.010])
async def test_max_events_still_bounds_a_batch_without_splitting_a_request(hold_back):
    recorder = Recorder()
    # The linger (50 ms) outlasts the hold-back, so all five are eligible at the first cut and max_events decides.
    group = GroupCommit(recorder, per_event, max_events=3, max_wait=0.050, hold_back=hold_back)
    try:
        requests = [events(1, 2), events(3), events(4, 5), events(6, 7, 8, 9, 10), events(11)]
        answers = await asyncio.gather(*(group.submit(request) for request in requests))
    finally:
        await group.stop()

    assert recorder.batches == [["e1", "e2", "e3"], ["e4", "e5"], ["e6", "e7", "e8", "e9", "e10"], ["e11"]]
    assert [names(answer) for answer in answers] == [[e.provider_event_id for e in r] for r in requests]
    assert (group.batches, group.batched_events) == (4, 11)


async def test_under_a_backlog_the_earliest_exchange_times_go_first():
    recorder = Recorder()
    # Four requests queue while nothing runs (the linger outlasts their arrival); one batch takes only three events.
    group = GroupCommit(recorder, per_event, max_events=3, max_wait=0.050, hold_back=0.0)
    try:
        requests = [events(30, 31), events(10), events(40), events(20, 21)]
        answers = await asyncio.gather(*(group.submit(request) for request in requests))
    finally:
        await group.stop()

    # The caller stamped 10 and the one stamped 20-21 go before the one stamped 30-31 that arrived first; what is
    # left over stays queued in arrival order and goes next.
    assert recorder.batches == [["e10", "e20", "e21"], ["e30", "e31", "e40"]]
    assert [names(answer) for answer in answers] == [[e.provider_event_id for e in r] for r in requests]


async def test_under_a_backlog_a_request_queued_past_the_overdue_bound_goes_before_earlier_stamps(monkeypatch):
    from services.rules.application import group_commit

    monkeypatch.setattr(group_commit, "OVERDUE_SECONDS", 0.030)
    recorder = Recorder()
    group = GroupCommit(recorder, per_event, max_events=3, max_wait=0.100, hold_back=0.0)
    try:
        late_stamp = asyncio.ensure_future(group.submit(events(90, 91)))
        await asyncio.sleep(0.050)  # queued longer than the overdue bound when the next two fill the batch
        earlier = [asyncio.ensure_future(group.submit(events(n))) for n in (10, 20)]
        await asyncio.gather(late_stamp, *earlier)
    finally:
        await group.stop()

    # Without the bound the batch would be e10 and e20 (the earliest stamps) and e90-e91 would wait.
    assert recorder.batches == [["e90", "e91", "e10"], ["e20"]]
