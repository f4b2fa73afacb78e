"""Runs the clock ticks (IngestTradeEventsHandler.tick) every `period_seconds` with the wall clock's time."""

from __future__ import annotations

import asyncio
import logging

from libs.domain.clock import Clock
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler

log = logging.getLogger(__name__)


class ClockTicker:
    def __init__(self, ingest: IngestTradeEventsHandler, clock: Clock, *, period_seconds: float = 15.0) -> None:
        self._ingest = ingest
        self._clock = clock
        self._period = period_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                while await self._ingest.tick(self._clock.now()) > 0 and not self._stopping.is_set():
                    pass  # a full page: more may be due
            except Exception:  # the ticker must outlive a database blip
                log.exception("clock tick pass failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self._period)
            except TimeoutError:
                pass
