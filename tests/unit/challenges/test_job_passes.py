"""The pacing the batch jobs share (subscription billing, the platform credentials sweep): a full batch is followed
by another pass at once, a short one waits for the poll, a failed pass is logged and the job goes on, stop ends it."""

from __future__ import annotations

import asyncio
import logging

from services.challenges.application.job_passes import run_passes

log = logging.getLogger("tests.job_passes")


async def test_full_batches_run_again_at_once_and_a_short_one_waits_for_the_poll():
    stopping = asyncio.Event()
    answers = [10, 10, 3]
    passes = 0

    async def run_once() -> int:
        nonlocal passes
        passes += 1
        return answers.pop(0) if answers else 0

    job = asyncio.create_task(
        run_passes(run_once, stopping, batch_size=10, poll_seconds=60.0, log=log, failure="test pass failed")
    )
    await asyncio.sleep(0.05)
    assert passes == 3  # two full batches drained without waiting, then the short one waits (a minute's poll)
    stopping.set()
    await asyncio.wait_for(job, timeout=1.0)  # the stop ends the wait, not the poll
    assert passes == 3


async def test_a_failed_pass_is_logged_and_the_job_goes_on(caplog):
    caplog.set_level(logging.ERROR, logger=log.name)
    stopping = asyncio.Event()
    passes = 0

    async def run_once() -> int:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise ConnectionError("database went away")
        stopping.set()
        return 0

    await asyncio.wait_for(
        run_passes(run_once, stopping, batch_size=10, poll_seconds=0.01, log=log, failure="test pass failed"),
        timeout=1.0,
    )
    assert passes == 2
    records = [r for r in caplog.records if r.name == log.name]
    assert [r.getMessage() for r in records] == ["test pass failed"]
    assert records[0].exc_info is not None  # the traceback is kept


async def test_a_job_stopped_before_it_starts_runs_no_pass():
    stopping = asyncio.Event()
    stopping.set()
    passes = 0

    async def run_once() -> int:
        nonlocal passes
        passes += 1
        return 0

    await run_passes(run_once, stopping, batch_size=1, poll_seconds=60.0, log=log, failure="x")
    assert passes == 0
