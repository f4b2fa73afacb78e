"""Risk updates for the WebSocket: only to traders who are watching, at most one per account per interval, the
newest winning.

A quote moves every account holding its symbol; sending each move would cost a Redis publish per account per quote
while the gateway forwards at most 4 per second per account anyway (ADR 0060). So after each commit an account's
figures go out at once if its last update is older than the interval, else they wait (replacing any waiting ones)
until the interval has passed: the trader always ends up seeing the latest committed figures. Violations are not
throttled. The figures are captured at commit time (immutable values), never read later from a live object that a
next batch may be changing.

Risk figures go only to users whose channel has a subscriber (a gateway WebSocket), ADR 0069: almost every channel a
quote moves has nobody listening. Who listens is Redis's own answer (`LiveNotices.watched_users`, PUBSUB CHANNELS),
asked at most once per `presence_refresh` seconds (1 s): a trader who connects sees updates within about a second, at
the first refresh after the gateway subscribed. Figures of an unwatched account are not sent but kept (the newest
only, one entry per account), and go out at the first refresh that finds their trader watching, so a trader who
connects between a move and the next refresh still ends up with the newest figures. When the lookup fails (or the
adapter cannot tell) everything is published, as before. Violations and every other notice are always published.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from services.rules.application.monitored_account import MonitoredAccount
from services.rules.application.ports import LiveNotices
from services.rules.domain.account_risk import AccountRisk

log = logging.getLogger(__name__)

PRESENCE_REFRESH_SECONDS = 1.0
PRESENCE_TIMEOUT_SECONDS = 0.5  # a slow lookup must not hold up the commits behind it: unknown, publish everything
MAX_KEPT = 100_000  # figures of unwatched accounts kept for when their trader connects (one per account)


def captured(
    account: MonitoredAccount, risk: AccountRisk, equity: Decimal | None = None, cursor: datetime | None = None
) -> tuple:
    """The figures as of now (or with `equity` and `cursor` given: a quiet quote's, not yet applied to `risk`)."""
    return (
        account.user_id,
        str(account.account_id),
        risk.status.value,
        risk.balance,
        risk.equity if equity is None else equity,
        risk.floor,
        risk.cursor if cursor is None else cursor,
    )


def figures(values: tuple) -> dict:
    _, account_id, status, balance, equity, floor, cursor = values
    return {
        "type": "risk",
        "account_id": account_id,
        "status": status,
        "balance": str(balance),
        "equity": str(equity),
        "floor": str(floor),
        "as_of": None if cursor is None else cursor.isoformat(),
    }


class Presence:
    """The users watching their channel, as Redis last said: looked up at most once per `refresh` seconds.

    `watched()` returns a set, or None for "unknown: publish everything" (before the first answer, while the lookup
    fails, or when the adapter cannot tell). Only the first caller after the refresh interval awaits the lookup;
    a caller arriving while it runs gets the last known answer. A failed lookup is not retried before the next
    interval, and is logged once per streak of failures; a lookup slower than `timeout` counts as failed. A trader
    who connects is seen at the next refresh, so within about `refresh` seconds.
    """

    def __init__(
        self,
        notices: LiveNotices,
        refresh: float = PRESENCE_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = PRESENCE_TIMEOUT_SECONDS,
    ) -> None:
        self._notices = notices
        self._refresh = refresh
        self._timeout = timeout
        self._clock = clock
        self._known: set[str] | None = None
        self._checked_at = float("-inf")
        self._refreshing = False
        self._failing = False

    @property
    def checked_at(self) -> float:
        """When the latest lookup started (clock time); -inf before the first."""
        return self._checked_at

    async def watched(self) -> set[str] | None:
        if self._refreshing or self._clock() - self._checked_at < self._refresh:
            return self._known
        self._refreshing = True
        self._checked_at = self._clock()
        try:
            users = await asyncio.wait_for(self._notices.watched_users(), self._timeout)
        except Exception:  # presence only saves publishes: not knowing it means publishing everything
            if not self._failing:
                log.warning("who watches live risk is unknown; publishing to every trader until it is", exc_info=True)
            self._failing = True
            self._known = None
        else:
            if self._failing:
                log.info("who watches live risk is known again")
            self._failing = False
            self._known = None if users is None else set(users)
        finally:
            self._refreshing = False
        return self._known


_shared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def presence_for(notices: LiveNotices, refresh: float = PRESENCE_REFRESH_SECONDS) -> Presence:
    """The one Presence of a LiveNotices adapter, so the batch and per-event paths share one lookup per refresh."""
    try:
        presence = _shared.get(notices)
        if presence is None:
            presence = _shared[notices] = Presence(notices, refresh)
    except TypeError:  # not hashable or not weakly referenceable: its own Presence
        presence = Presence(notices, refresh)
    return presence


def only_watched(notices: list[tuple[str, dict]], watched: set[str] | None) -> list[tuple[str, dict]]:
    """The notices to publish: risk figures only to watched users (all when `watched` is None), all others always."""
    if watched is None:
        return notices
    return [(user, notice) for user, notice in notices if notice.get("type") != "risk" or user in watched]


class ThrottledRiskNotices:
    def __init__(
        self,
        notices: LiveNotices | None,
        interval: float = 0.25,
        presence: Presence | None = None,
    ) -> None:
        self._notices = notices
        self._interval = interval
        self._presence = presence if presence is not None or notices is None else presence_for(notices)
        self._sent_at: dict[str, float] = {}
        self._waiting: dict[str, tuple] = {}
        self._timer: asyncio.TimerHandle | None = None
        # Presence as last acted on, and the newest figures of accounts whose trader was not watching.
        self._watched: set[str] | None = None
        self._kept: dict[str, tuple] = {}
        self._kept_at = float("-inf")  # when figures were last kept: a refresh after it must look for their traders

    async def committed(self, violations: list[tuple[str, dict]], moved: Iterable[tuple]) -> None:
        """After a commit: the violations found and the captured figures of every account it moved."""
        if self._notices is None:
            return
        watched = await self._presence.watched()
        newest = {values[1]: values for values in self._now_watched(watched)}
        newest.update((values[1], values) for values in moved)  # this commit's figures are newer than kept ones
        now = time.monotonic()
        out = list(violations)
        for values in newest.values():
            account_id = values[1]
            if watched is not None and values[0] not in watched:
                self._keep(values, now)
            elif now - self._sent_at.get(account_id, -1e9) >= self._interval:
                self._sent_at[account_id] = now
                self._waiting.pop(account_id, None)
                out.append((values[0], figures(values)))
            else:
                self._waiting[account_id] = values
        self._arm()
        await self._publish(out)

    def _keep(self, values: tuple, now: float) -> None:
        """An unwatched account's newest figures, kept instead of sent; whatever was waiting for it is dropped."""
        account_id = values[1]
        self._waiting.pop(account_id, None)
        self._kept.pop(account_id, None)  # re-inserted last: the dict's order is the order of the moves
        self._kept[account_id] = values
        self._kept_at = now
        if len(self._kept) > MAX_KEPT:  # the oldest moves go first; bounded whatever the number of accounts
            del self._kept[next(iter(self._kept))]

    def _now_watched(self, watched: set[str] | None) -> list[tuple]:
        """The kept figures of traders watching since the last refresh acted on (all of them when presence became
        unknown), removed from the kept ones."""
        if watched is self._watched:
            return []
        self._watched = watched
        due = [v for v in self._kept.values() if watched is None or v[0] in watched]
        for values in due:
            del self._kept[values[1]]
        return due

    def _arm(self) -> None:
        # Waiting figures go out after the interval; kept ones need one refresh after they were kept, so that a
        # trader who connected just then gets them even if nothing moves the account again.
        pending = self._waiting or (self._kept and self._presence.checked_at < self._kept_at)
        if pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        watched = await self._presence.watched()
        now = time.monotonic()
        for values in self._now_watched(watched):
            self._waiting[values[1]] = values  # sent below if the interval allows, else by a later flush
        due = []
        for account_id, values in list(self._waiting.items()):
            if watched is not None and values[0] not in watched:
                self._keep(values, now)  # the trader left: keep the newest for when they return
            elif now - self._sent_at.get(account_id, -1e9) >= self._interval:
                due.append(values)
        for values in due:
            self._waiting.pop(values[1], None)
            self._sent_at[values[1]] = now
        self._arm()
        await self._publish([(values[0], figures(values)) for values in due])
        if len(self._sent_at) > 100_000:  # forget accounts long quiet, so the map stays bounded
            self._sent_at = {k: v for k, v in self._sent_at.items() if now - v < self._interval}

    async def _publish(self, notices: list[tuple[str, dict]]) -> None:
        if not notices:
            return
        try:
            await self._notices.publish_many(notices)
        except Exception:  # a live update is best effort: the state is committed and readable
            log.warning("%d live notices failed", len(notices), exc_info=True)
