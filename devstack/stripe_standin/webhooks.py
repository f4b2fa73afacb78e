"""Deliver events to the webhook endpoint the way Stripe does, plus the misbehaviour Stripe is allowed to show.

Each delivery attempt is signed afresh: `Stripe-Signature: t=<unix ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>`,
the secret being the whole `whsec_...` string, exactly what `stripe.Webhook.construct_event` recomputes. A non-2xx
answer (or no answer) is retried with exponential backoff in its own task, so one failing event never holds up the
others, which is also how Stripe behaves: it promises neither order nor exactly-once delivery.

The knobs (POST /_standin/config) make the at-least-once, unordered contract visible on demand:
`duplicates` extra copies of every delivery, `order` in_order / shuffle / reverse within a window of
`window_size` events, `delay_seconds` before each delivery; `enabled_events` filters what is sent, as a Stripe
webhook endpoint's setting of that name does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import logging
import random
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx

log = logging.getLogger("stripe_standin.webhooks")

ORDERS = ("in_order", "shuffle", "reverse")


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class DeliveryConfig:
    webhook_url: str | None = None
    webhook_secret: str = "whsec_devstack"
    duplicates: int = 0
    order: str = "in_order"
    window_size: int = 1
    window_wait_seconds: float = 0.5
    delay_seconds: float = 0.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    max_attempts: int = 8
    timeout_seconds: float = 10.0
    concurrency: int = 1
    paused: bool = False
    # Like a Stripe webhook endpoint's enabled_events: "*" or exact types. Events are stored either way.
    enabled_events: list[str] = field(default_factory=lambda: ["*"])

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["webhook_secret"] = self.webhook_secret[:6] + "..."  # enough to tell secrets apart, not to use one
        return shown

    def update(self, changes: dict[str, Any]) -> None:
        """All or nothing: a refused change leaves every knob as it was."""
        candidate = replace(self)
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown knob: {name}")
            current = getattr(self, name)
            if isinstance(current, list):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of event types")
            elif isinstance(current, bool):
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)  # a delay in seconds, not money
            setattr(candidate, name, value)
        if candidate.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        if candidate.duplicates < 0 or candidate.window_size < 1 or candidate.max_attempts < 1:
            raise ValueError("duplicates >= 0, window_size >= 1 and max_attempts >= 1")
        if candidate.concurrency != self.concurrency:
            raise ValueError("concurrency is fixed when the stand-in starts")
        for name in changes:
            setattr(self, name, getattr(candidate, name))


@dataclass
class Attempt:
    event_id: str
    event_type: str
    attempt: int
    status: int | None
    error: str | None
    at: float


@dataclass
class WebhookDispatcher:
    config: DeliveryConfig
    attempts: collections.deque[Attempt] = field(default_factory=lambda: collections.deque(maxlen=10_000))
    _queue: asyncio.Queue | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None
    _in_flight: int = 0
    _random: random.Random = field(default_factory=random.Random)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._client = httpx.AsyncClient(timeout=self.config.timeout_seconds)
        for _ in range(self.config.concurrency):
            self._spawn(self._worker())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()

    def enqueue(self, event_id: str, event_type: str, payload: str) -> None:
        if self._queue is not None and self.config.wants(event_type):
            self._in_flight += 1
            self._queue.put_nowait((event_id, event_type, payload))

    @property
    def idle(self) -> bool:
        return self._in_flight == 0

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            if self.config.order != "in_order" and self.config.window_size > 1:
                batch += await self._gather_window(self.config.window_size - 1)
            deliveries = [item for item in batch for _copy in range(1 + self.config.duplicates)]
            self._in_flight += len(deliveries) - len(batch)
            for item in self._reorder(deliveries):
                while self.config.paused:  # noqa: ASYNC110  a knob flipped over HTTP, polled like a human would
                    await asyncio.sleep(0.05)
                if self.config.delay_seconds > 0:
                    await asyncio.sleep(self.config.delay_seconds)
                await self._deliver(*item, attempt=1)

    async def _gather_window(self, wanted: int) -> list[tuple[str, str, str]]:
        assert self._queue is not None
        gathered: list[tuple[str, str, str]] = []
        deadline = time.monotonic() + self.config.window_wait_seconds
        while len(gathered) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                gathered.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return gathered

    def _reorder(self, deliveries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        if self.config.order == "reverse":
            return list(reversed(deliveries))
        if self.config.order == "shuffle" and len({d[0] for d in deliveries}) > 1:
            shuffled = deliveries[:]
            # A shuffle that happens to keep the order would prove nothing; shuffle until it does not.
            while [d[0] for d in shuffled] == [d[0] for d in deliveries]:
                self._random.shuffle(shuffled)
            return shuffled
        return deliveries

    async def _deliver(self, event_id: str, event_type: str, payload: str, attempt: int) -> None:
        url = self.config.webhook_url
        status: int | None = None
        error: str | None = None
        if not url:
            error = "no webhook_url configured"
        else:
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature_header(payload, self.config.webhook_secret, int(time.time())),
            }
            try:
                assert self._client is not None
                response = await self._client.post(url, content=payload.encode(), headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        self.attempts.append(Attempt(event_id, event_type, attempt, status, error, time.time()))
        if status is not None and 200 <= status < 300:
            self._in_flight -= 1
            return
        if attempt >= self.config.max_attempts or not url:
            log.warning("giving up on %s after %d attempts (%s)", event_id, attempt, error or status)
            self._in_flight -= 1
            return
        backoff = min(self.config.retry_max_seconds, self.config.retry_base_seconds * 2 ** (attempt - 1))
        self._spawn(self._retry_later(event_id, event_type, payload, attempt + 1, backoff))

    async def _retry_later(self, event_id: str, event_type: str, payload: str, attempt: int, backoff: float) -> None:
        await asyncio.sleep(backoff)
        await self._deliver(event_id, event_type, payload, attempt)
