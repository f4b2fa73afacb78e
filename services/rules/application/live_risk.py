"""Risk updates for the WebSocket, at most one per account per interval, the newest winning.

A quote moves every account holding its symbol; sending each move would cost a Redis publish per account per quote
while the gateway forwards at most 4 per second per account anyway (ADR 0060). So after each commit an account's
figures go out at once if its last update is older than the interval, else they wait (replacing any waiting ones)
until the interval has passed: the trader always ends up seeing the latest committed figures. Violations are not
throttled. The figures are captured at commit time (immutable values), never read later from a live object that a
next batch may be changing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from services.rules.application.monitored_account import MonitoredAccount
from services.rules.application.ports import LiveNotices
from services.rules.domain.account_risk import AccountRisk

log = logging.getLogger(__name__)


def captured(account: MonitoredAccount, risk: AccountRisk) -> tuple:
    return (account.user_id, str(account.account_id), risk.status.value, risk.balance, risk.equity, risk.floor,
            risk.cursor)  # fmt: skip


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


class ThrottledRiskNotices:
    def __init__(self, notices: LiveNotices | None, interval: float = 0.25) -> None:
        self._notices = notices
        self._interval = interval
        self._sent_at: dict[str, float] = {}
        self._waiting: dict[str, tuple] = {}
        self._timer: asyncio.TimerHandle | None = None

    async def committed(self, violations: list[tuple[str, dict]], moved: Iterable[tuple]) -> None:
        """After a commit: the violations found and the captured figures of every account it moved."""
        if self._notices is None:
            return
        now = time.monotonic()
        out = list(violations)
        for values in moved:
            account_id = values[1]
            if now - self._sent_at.get(account_id, -1e9) >= self._interval:
                self._sent_at[account_id] = now
                self._waiting.pop(account_id, None)
                out.append((values[0], figures(values)))
            else:
                self._waiting[account_id] = values
        if self._waiting and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._flush_soon)
        await self._publish(out)

    def _flush_soon(self) -> None:
        self._timer = None
        asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        now = time.monotonic()
        due = [
            values
            for account_id, values in self._waiting.items()
            if now - self._sent_at.get(account_id, -1e9) >= self._interval
        ]
        for values in due:
            self._waiting.pop(values[1], None)
            self._sent_at[values[1]] = now
        if self._waiting and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._flush_soon)
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
