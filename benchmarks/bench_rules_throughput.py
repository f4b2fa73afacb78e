"""Events per second through the pure rules engine, for a realistic mix (90% marks, 10% fills) on one core.

    PYTHONPATH=.:gen/python python benchmarks/bench_rules_throughput.py [--accounts N] [--events-per-account M]

Each account has the full evaluation rule set (EOD-trailing drawdown with lock, soft DLL with a step, profit
target, minimum days, consistency, max contracts with scaling, fees) and trades ES and MES over a week of
sessions, so EOD snapshots, rolls and weekend gaps fire between events. The events are built before the clock
starts: the figure is the engine alone (no parsing, no I/O). Prints one line: ``rules_throughput_events_per_second``.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from libs.domain.rule_set import parse_rule_set
from services.rules.domain.account_risk import AccountRisk
from services.rules.domain.trade_events import Fill, Mark, Side, TradeEvent

RULE_SET = {
    "start_balance": "50000.00",
    "drawdown": {"mode": "eod_trailing", "max_loss": "10000.00", "lock": {"kind": "start"}},
    "daily_loss_limit": {
        "amount": "3000.00",
        "breach": "soft",
        "steps": [{"eod_balance_at_least": "53000.00", "amount": "2000.00"}],
    },
    "profit_target": {"amount": "30000.00"},
    "min_trading_days": {"count": 5, "counts_if": "any_fill"},
    "consistency": {"max_ratio": "0.40", "compare": "lt", "mode": "gate"},
    "max_contracts": {
        "limit": "5",
        "micro_weight": "0.1",
        "enforcement": "post_trade_violation",
        "scaling": [{"eod_balance_above": "52000.00", "limit": "8"}],
    },
    "fees_per_side": {"ES": "2.50", "MES": "0.62"},
}
TICK = Decimal("0.25")


def build_stream(seed: int, count: int) -> list[TradeEvent]:
    """A random walk of ES/MES prices, one event every ~30 seconds, a fill every tenth event."""
    rng = random.Random(seed)
    at = datetime(2026, 2, 2, 8, 30, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
    ticks = {"ES": 20000, "MES": 20000}  # 5000.00 in quarter points
    held = {"ES": 0, "MES": 0}
    events: list[TradeEvent] = []
    for index in range(count):
        at += timedelta(seconds=rng.randint(1, 60))
        symbol = "ES" if rng.random() < 0.7 else "MES"
        # Mean-reverting walk: the account trades all week without drifting into a breach.
        ticks[symbol] += rng.choice((-1, 0, 1)) + (1 if ticks[symbol] < 19990 else -1 if ticks[symbol] > 20010 else 0)
        price = TICK * ticks[symbol]
        if index % 10 == 9:
            side = Side.SELL if held[symbol] > 0 else Side.BUY
            held[symbol] += side.sign
            events.append(Fill(at=at, symbol=symbol, side=side, qty=1, price=price))
        else:
            events.append(Mark(at=at, symbol=symbol, price=price))
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--events-per-account", type=int, default=25_000)
    args = parser.parse_args()

    rule_set = parse_rule_set(RULE_SET)
    streams = [build_stream(seed, args.events_per_account) for seed in range(args.accounts)]
    total = sum(len(stream) for stream in streams)
    decisions = 0
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    for stream in streams:
        account = AccountRisk(rule_set)
        apply = account.apply
        for event in stream:
            decisions += len(apply(event))
        statuses[account.status.value] = statuses.get(account.status.value, 0) + 1
    elapsed = time.perf_counter() - started
    # Every account must still be checking rules at the end, or the figure would flatter the engine.
    print(f"events: {total}, decisions: {decisions}, final statuses: {statuses}, seconds: {elapsed:.3f}")
    print(f"rules_throughput_events_per_second: {total / elapsed:,.0f}")


if __name__ == "__main__":
    main()
