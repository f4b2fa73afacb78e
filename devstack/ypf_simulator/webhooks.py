"""Deliver events to --webhook-url, signed, at least once, and misbehaving when asked to.

Signature: `X-YPF-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, the secret's UTF-8
bytes as the key. Every attempt is signed afresh with the time it leaves. A non-2xx answer (or none) is retried
with exponential backoff in its own task, so one failing event never holds up the others; that also means a
retried event arrives after later ones, as it does from any real webhook sender.

One worker sends in creation order unless a knob says otherwise (SimConfig: duplicate_rate, drop_rate,
reorder_window, delay_seconds, paused, event_types).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from devstack.ypf_simulator.config import SimConfig
from devstack.ypf_simulator.http_sender import WebhookSender

log = logging.getLogger("ypf_simulator.webhooks")


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Attempt:
    event_id: str
    event_type: str
    attempt: int
    status: int | None  # None: no answer (connection refused, timeout) or not sent
    outcome: str  # delivered | failed | dropped | filtered
    at: float


@dataclass
class Outgoing:
    event_id: str
    event_type: str
    body: bytes


@dataclass
class WebhookDispatcher:
    config: SimConfig
    url: str | None
    secret: str
    concurrency: int = 1
    attempts: collections.deque[Attempt] = field(default_factory=lambda: collections.deque(maxlen=50_000))
    _queue: asyncio.Queue[Outgoing] | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _sender: WebhookSender | None = None
    _pending: int = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        if self.url:
            self._sender = WebhookSender(self.url, self.config.timeout_seconds)
        for _ in range(self.concurrency):
            self._spawn(self._worker())

    async def stop(self) -> None:
        """Cancel the workers and pending retries; bounded, so a task that misses its cancellation cannot hold up
        the process's shutdown."""
        for _ in range(3):
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1)
        if self._sender is not None:
            await self._sender.close()

    def enqueue(self, event_id: str, event_type: str, body: bytes) -> None:
        if self._queue is None:
            return
        if not self.config.wants(event_type):
            self._record(event_id, event_type, 0, None, "filtered")
            return
        if self.config.chance(self.config.drop_rate):
            self._record(event_id, event_type, 0, None, "dropped")
            return
        copies = 2 if self.config.chance(self.config.duplicate_rate) else 1
        for _ in range(copies):
            self._pending += 1
            self._queue.put_nowait(Outgoing(event_id, event_type, body))

    @property
    def idle(self) -> bool:
        return self._pending == 0

    def public_attempts(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [asdict(a) for a in self.attempts if event_type is None or a.event_type == event_type]

    def _record(self, event_id: str, event_type: str, attempt: int, status: int | None, outcome: str) -> None:
        self.attempts.append(Attempt(event_id, event_type, attempt, status, outcome, time.time()))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            if self.config.reorder_window > 1:
                batch += await self._gather(self.config.reorder_window - 1)
                batch = self._reordered(batch)
            for item in batch:
                while self.config.paused:  # noqa: ASYNC110  a knob flipped over HTTP; polling is enough
                    await asyncio.sleep(0.02)
                if self.config.delay_seconds > 0:
                    await asyncio.sleep(self.config.delay_seconds)
                await self._deliver(item, attempt=1)

    async def _gather(self, wanted: int) -> list[Outgoing]:
        assert self._queue is not None
        gathered: list[Outgoing] = []
        deadline = time.monotonic() + self.config.reorder_wait_seconds
        while len(gathered) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    gathered.append(await self._queue.get())
            except TimeoutError:
                break
        return gathered

    def _reordered(self, batch: list[Outgoing]) -> list[Outgoing]:
        if len({item.event_id for item in batch}) < 2:
            return batch
        shuffled = batch[:]
        # A shuffle that happens to keep the order would prove nothing; shuffle until it differs.
        while [item.event_id for item in shuffled] == [item.event_id for item in batch]:
            self.config.rng.shuffle(shuffled)
        return shuffled

    async def _deliver(self, item: Outgoing, attempt: int) -> None:
        status: int | None = None
        if self.url:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "YourPropFirm-Webhooks/1.0 (simulator)",
                "X-YPF-Event-Id": item.event_id,
                "X-YPF-Event-Type": item.event_type,
                "X-YPF-Delivery-Attempt": str(attempt),
                "X-YPF-Signature": signature_header(item.body, self.secret, int(time.time())),
            }
            try:
                assert self._sender is not None
                status = await self._sender.post(item.body, headers)
            # No answer, or one that is not HTTP: a failed attempt, retried like a 5xx.
            except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError, httpx.HTTPError) as exc:
                log.info("delivery of %s failed: %s", item.event_id, type(exc).__name__)
        delivered = status is not None and 200 <= status < 300
        self._record(item.event_id, item.event_type, attempt, status, "delivered" if delivered else "failed")
        if delivered or not self.url or attempt >= self.config.max_attempts:
            if not delivered and self.url:
                log.warning("giving up on %s after %d attempts", item.event_id, attempt)
            self._pending -= 1
            return
        backoff = min(self.config.retry_max_seconds, self.config.retry_base_seconds * 2 ** (attempt - 1))
        self._spawn(self._retry_later(item, attempt + 1, backoff))

    async def send_once(self, body: bytes, signature: str, event_type: str = "test") -> int | None:
        """One delivery outside the queue and without retries, signed as asked: `valid`, `stale` (a correct HMAC
        over a timestamp an hour old), `invalid` (the wrong key) or `none` (no header). For the gateway's tests of
        what it must refuse."""
        if self._sender is None:
            raise ValueError("no --webhook-url to send to")
        now = int(time.time())
        headers = {"Content-Type": "application/json", "X-YPF-Event-Type": event_type}
        if signature == "valid":
            headers["X-YPF-Signature"] = signature_header(body, self.secret, now)
        elif signature == "stale":
            headers["X-YPF-Signature"] = signature_header(body, self.secret, now - 3600)
        elif signature == "invalid":
            headers["X-YPF-Signature"] = signature_header(body, self.secret + "-wrong", now)
        elif signature != "none":
            raise ValueError("signature must be valid, stale, invalid or none")
        try:
            return await self._sender.post(body, headers)
        except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError, httpx.HTTPError):
            return None

    async def _retry_later(self, item: Outgoing, attempt: int, backoff: float) -> None:
        await asyncio.sleep(backoff)
        await self._deliver(item, attempt)
