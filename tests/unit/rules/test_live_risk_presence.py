"""Risk figures only to watched traders (ADR 0069), with a fake LiveNotices: the filter, the kept newest figures for
a trader who starts watching, the bounded state, the refresh policy of Presence and its fallback to publish all.

Pure asyncio, no Redis: the Redis side is tests/integration/rules/test_live_presence.py."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.rules.application import live_risk
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from services.rules.application.live_risk import Presence, ThrottledRiskNotices, only_watched

AT = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)


def values(user: str, account: str, equity: str) -> tuple:
    """Captured figures as live_risk.captured makes them."""
    return (user, account, "active", Decimal("50000"), Decimal(equity), Decimal("48000"), AT)


def violation(account: str) -> dict:
    return {"type": "violation", "account_id": account, "rule": "max_loss"}


class FakeNotices:
    """Records what is published; `watching` is what watched_users answers (an exception is raised)."""

    def __init__(self, watching: set[str] | Exception | None = frozenset()) -> None:
        self.watching = watching
        self.published: list[tuple[str, dict]] = []
        self.lookups = 0
        self.gate: asyncio.Event | None = None  # when set, a lookup waits for it

    async def watched_users(self) -> set[str] | None:
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.watching, Exception):
            raise self.watching
        return None if self.watching is None else set(self.watching)

    async def publish_many(self, notices: list[tuple[str, dict]]) -> None:
        self.published.extend(notices)

    async def risk_updated(self, user_id: str, update: dict) -> None:
        self.published.append((user_id, update))

    def risk(self, user: str | None = None) -> list[str]:
        """The equities of the risk figures published (to `user`), in order."""
        return [n["equity"] for u, n in self.published if n["type"] == "risk" and user in (None, u)]


def throttled(notices: FakeNotices, interval: float = 0.25, refresh: float = 0.0) -> ThrottledRiskNotices:
    return ThrottledRiskNotices(notices, interval=interval, presence=Presence(notices, refresh=refresh))


async def test_risk_figures_go_only_to_watched_users_and_violations_to_everyone():
    notices = FakeNotices({"alice"})
    live = throttled(notices)
    await live.committed([("bob", violation("b1"))], [values("alice", "a1", "100"), values("bob", "b1", "200")])
    assert notices.published == [
        ("bob", violation("b1")),
        ("alice", live_risk.figures(values("alice", "a1", "100"))),
    ]


async def test_unknown_presence_publishes_everything():
    notices = FakeNotices(None)
    live = throttled(notices)
    await live.committed([], [values("alice", "a1", "100"), values("bob", "b1", "200")])
    assert notices.risk() == ["100", "200"]


async def test_a_trader_who_starts_watching_gets_the_newest_kept_figures_once():
    notices = FakeNotices(set())
    live = throttled(notices, interval=0.0)
    for equity in ("1", "2", "3"):
        await live.committed([], [values("bob", "b1", equity)])
    assert notices.published == []
    notices.watching = {"bob"}
    await live.committed([], [values("alice", "a1", "9")])  # another account moves; the refresh finds bob
    assert notices.risk("bob") == ["3"]
    await live.committed([], [values("alice", "a1", "10")])
    assert notices.risk("bob") == ["3"], "kept figures are sent once"


async def test_figures_of_this_commit_replace_kept_ones_of_the_same_account():
    notices = FakeNotices(set())
    live = throttled(notices)
    await live.committed([], [values("bob", "b1", "1")])
    notices.watching = {"bob"}
    await live.committed([], [values("bob", "b1", "2")])
    assert notices.risk("bob") == ["2"]
    await asyncio.sleep(0.3)  # past the throttle interval: nothing stale was left waiting
    assert notices.risk("bob") == ["2"]


async def test_kept_figures_reach_a_trader_who_connects_when_nothing_moves_any_more():
    notices = FakeNotices(set())
    live = throttled(notices, interval=0.02, refresh=0.05)
    await live.committed([], [values("bob", "b1", "7")])
    notices.watching = {"bob"}  # bob connects; no commit follows
    for _ in range(200):
        if notices.risk("bob"):
            break
        await asyncio.sleep(0.01)
    assert notices.risk("bob") == ["7"]


async def test_waiting_figures_of_a_trader_who_left_are_not_sent_but_kept_for_their_return():
    notices = FakeNotices({"bob"})
    live = throttled(notices, interval=0.05)
    await live.committed([], [values("bob", "b1", "1")])
    await live.committed([], [values("bob", "b1", "2")])  # within the interval: waits
    notices.watching = set()  # bob closes the page before the wait ends
    await asyncio.sleep(0.15)
    assert notices.risk("bob") == ["1"]
    notices.watching = {"bob"}
    await live.committed([], [])
    await asyncio.sleep(0.1)
    assert notices.risk("bob") == ["1", "2"]


async def test_figures_kept_for_unwatched_accounts_are_bounded_oldest_first(monkeypatch):
    monkeypatch.setattr(live_risk, "MAX_KEPT", 3)
    notices = FakeNotices(set())
    live = throttled(notices)
    for n in range(5):
        await live.committed([], [values(f"u{n}", f"a{n}", str(n))])
    await live.committed([], [values("u1", "a1", "11")])  # a1 moves again: now the newest
    notices.watching = {f"u{n}" for n in range(5)}
    await live.committed([], [])
    assert sorted(notices.risk()) == ["11", "3", "4"]


async def test_presence_lost_sends_what_was_kept():
    notices = FakeNotices(set())
    live = throttled(notices)
    await live.committed([], [values("bob", "b1", "5")])
    notices.watching = ConnectionError("redis down")
    await live.committed([], [values("alice", "a1", "6")])
    assert sorted(notices.risk()) == ["5", "6"]


async def test_presence_is_looked_up_at_most_once_per_refresh():
    now = [100.0]
    notices = FakeNotices({"alice"})
    presence = Presence(notices, refresh=1.0, clock=lambda: now[0])
    assert await presence.watched() == {"alice"}
    notices.watching = {"alice", "bob"}
    now[0] += 0.9
    assert await presence.watched() == {"alice"}
    assert notices.lookups == 1
    now[0] += 0.1
    assert await presence.watched() == {"alice", "bob"}
    assert notices.lookups == 2


async def test_a_caller_during_a_lookup_gets_the_last_known_set_without_waiting():
    now = [100.0]
    notices = FakeNotices({"alice"})
    presence = Presence(notices, refresh=1.0, clock=lambda: now[0])
    await presence.watched()
    now[0] += 1.0
    notices.gate, notices.watching = asyncio.Event(), {"bob"}
    slow = asyncio.create_task(presence.watched())
    for _ in range(10):  # let the lookup start (wait_for runs it as a task of its own)
        await asyncio.sleep(0)
    assert notices.lookups == 2
    assert await asyncio.wait_for(presence.watched(), 0.1) == {"alice"}
    assert notices.lookups == 2
    notices.gate.set()
    assert await slow == {"bob"}


async def test_a_failing_lookup_means_publish_all_and_warns_once_per_streak(caplog):
    now = [100.0]
    notices = FakeNotices(ConnectionError("redis down"))
    presence = Presence(notices, refresh=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger=live_risk.__name__):
        for _ in range(3):
            assert await presence.watched() is None
            now[0] += 1.0
        assert notices.lookups == 3
        notices.watching = {"alice"}
        assert await presence.watched() == {"alice"}
        now[0] += 1.0
        notices.watching = ConnectionError("redis down again")
        assert await presence.watched() is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2


async def test_a_slow_lookup_counts_as_failed():
    notices = FakeNotices({"alice"})
    notices.gate = asyncio.Event()
    presence = Presence(notices, refresh=1.0, timeout=0.05)
    assert await asyncio.wait_for(presence.watched(), 1) is None


def test_only_watched_keeps_every_other_notice_type():
    notices = [("bob", {"type": "risk"}), ("bob", {"type": "violation"}), ("bob", {"type": "account.failed"})]
    assert only_watched(notices, set()) == notices[1:]
    assert only_watched(notices, {"bob"}) == notices
    assert only_watched(notices, None) == notices


async def test_the_per_event_path_filters_risk_figures_too():
    notices = FakeNotices({"alice"})
    handler = IngestTradeEventsHandler(uow=None, notices=notices)
    await handler._send_live(
        [
            ("alice", live_risk.figures(values("alice", "a1", "1"))),
            ("bob", violation("b1")),
            ("bob", live_risk.figures(values("bob", "b1", "2"))),
        ]
    )
    assert [(u, n["type"]) for u, n in notices.published] == [("alice", "risk"), ("bob", "violation")]


@pytest.fixture(autouse=True)
def _no_shared_presence(monkeypatch):
    """Each test's fake gets its own Presence, however presence_for caches."""
    import weakref

    monkeypatch.setattr(live_risk, "_shared", weakref.WeakKeyDictionary())
