"""Risk figures only to watched traders (ADR 0069), on the real Redis: RedisNotices.watched_users (PUBSUB CHANNELS)
and ThrottledRiskNotices publishing through it.

What reaches Redis is observed by a pattern subscriber on `notifications:user:*`: it receives every publish to a
user's channel but, being a pattern, is not listed by PUBSUB CHANNELS, so it makes nobody "watched"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.rules.adapters.notices import RedisNotices, user_channel
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from services.rules.application.live_risk import Presence, ThrottledRiskNotices, figures

AT = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
REFRESH = 1.0  # the default presence refresh


def values(user: str, account: str, equity: str) -> tuple:
    return (user, account, "active", Decimal("50000"), Decimal(equity), Decimal("48000"), AT)


class Listener:
    """Collects (arrival time, user, notice) from a subscription: channels, or a pattern when `pattern` is set."""

    def __init__(self, redis: Redis) -> None:
        self._pubsub = redis.pubsub()
        self.received: list[tuple[float, str, dict]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self, *channels: str, pattern: str | None = None) -> Listener:
        if pattern:
            await self._pubsub.psubscribe(pattern)
        else:
            await self._pubsub.subscribe(*channels)
        # Wait for the subscription's confirmation, so Redis has it before anything is published.
        while await self._pubsub.get_message(timeout=1.0) is None:
            pass
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message and message["type"] in ("message", "pmessage"):
                user = message["channel"].removeprefix("notifications:user:")
                self.received.append((time.monotonic(), user, json.loads(message["data"])))
                self._arrived.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._pubsub.aclose()

    def of(self, user: str, kind: str) -> list[tuple[float, dict]]:
        return [(at, notice) for at, u, notice in self.received if u == user and notice.get("type") == kind]

    async def wait_for(self, user: str, kind: str, count: int = 1, within: float = 5.0) -> list[tuple[float, dict]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self._arrived.clear()  # before looking, so nothing arriving after the look goes unnoticed
            if len(self.of(user, kind)) >= count:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
        return self.of(user, kind)


@pytest.fixture
async def listeners(redis):
    started: list[Listener] = []

    async def listen(*channels: str, pattern: str | None = None) -> Listener:
        started.append(await Listener(redis).start(*channels, pattern=pattern))
        return started[-1]

    yield listen
    for listener in started:
        await listener.stop()


def users() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


async def test_watched_users_are_the_channels_with_a_subscriber(redis, listeners):
    a, b = users()
    notices = RedisNotices(redis)
    await listeners(pattern="notifications:user:*")  # a pattern watches nobody in particular
    assert {a, b}.isdisjoint(await notices.watched_users())
    listener = await listeners(user_channel(a))
    watched = await notices.watched_users()
    assert a in watched and b not in watched
    await listener.stop()
    for _ in range(500):  # the server drops the closed connection's subscription on its own time
        if a not in await notices.watched_users():
            break
        await asyncio.sleep(0.01)
    assert a not in await notices.watched_users()


async def test_risk_figures_reach_watchers_only_and_a_new_watcher_within_a_refresh(redis, listeners):
    a, b = users()
    notices = RedisNotices(redis)
    live = ThrottledRiskNotices(notices, interval=0.05, presence=Presence(notices, refresh=REFRESH))
    wire = await listeners(pattern="notifications:user:*")  # everything published to a user's channel
    alice = await listeners(user_channel(a))

    started = time.monotonic()  # the first commit looks presence up: a is watched, b is not
    await live.committed([(b, {"type": "violation", "account_id": "b1"})], [values(a, "a1", "1"), values(b, "b1", "1")])
    assert [n["equity"] for _, n in await alice.wait_for(a, "risk")] == ["1"]
    assert len(await wire.wait_for(b, "violation")) == 1, "a violation is published whoever watches"
    await asyncio.sleep(0.1)  # anything else published by now would have arrived
    assert wire.of(b, "risk") == [], "no risk figures published to a channel nobody listens to"

    bob = await listeners(user_channel(b))  # b connects, before the next refresh
    await live.committed([], [values(b, "b1", "2")])
    await asyncio.sleep(0.1)
    assert time.monotonic() - started < REFRESH, "the machine was too slow for this test's timing"
    assert wire.of(b, "risk") == [], "not watched until the next refresh"

    arrived = await bob.wait_for(b, "risk", within=REFRESH + 2)
    assert [n["equity"] for _, n in arrived] == ["2"], "the newest figures, once"
    assert arrived[0][0] - started >= REFRESH * 0.9, "sent at the refresh that saw the subscriber"
    assert arrived[0][0] - started < REFRESH + 1.0, "a trader who connects sees updates within about a second"

    await asyncio.sleep(0.1)  # past the throttle interval
    await live.committed([], [values(b, "b1", "3")])
    assert [n["equity"] for _, n in await bob.wait_for(b, "risk", count=2)] == ["2", "3"]


async def test_a_failing_presence_lookup_publishes_everything(redis, listeners):
    class NoPubsubCommands:
        """The real client, except that PUBSUB CHANNELS fails as a lost connection would."""

        def __getattr__(self, name):
            return getattr(redis, name)

        async def pubsub_channels(self, pattern):
            raise RedisConnectionError("PUBSUB unavailable")

    a, b = users()
    notices = RedisNotices(NoPubsubCommands())
    live = ThrottledRiskNotices(notices, interval=0.05, presence=Presence(notices, refresh=REFRESH))
    wire = await listeners(pattern="notifications:user:*")
    await live.committed([], [values(a, "a1", "1"), values(b, "b1", "2")])
    assert [n["equity"] for _, n in await wire.wait_for(a, "risk")] == ["1"]
    assert [n["equity"] for _, n in await wire.wait_for(b, "risk")] == ["2"]


async def test_the_per_event_path_publishes_risk_figures_to_watchers_only(redis, listeners):
    a, b = users()
    handler = IngestTradeEventsHandler(uow=None, notices=RedisNotices(redis))
    wire = await listeners(pattern="notifications:user:*")
    await listeners(user_channel(a))
    await handler._send_live(
        [
            (a, figures(values(a, "a1", "1"))),
            (b, {"type": "violation", "account_id": "b1"}),
            (b, figures(values(b, "b1", "2"))),
        ]
    )
    assert len(await wire.wait_for(b, "violation")) == 1
    assert len(await wire.wait_for(a, "risk")) == 1
    await asyncio.sleep(0.1)
    assert wire.of(b, "risk") == []
