"""Re-marking on a price tick: 100,000 open positions across 10 symbols re-valued and checked against their
floors and daily loss limits after one mark per symbol.

    PYTHONPATH=.:gen/python python benchmarks/bench_rules_remark.py [--positions N] [--repeats R]

The screen (services/rules/domain/remark_screen.py) works in exact int64 at 10^-8 dollar and confirms its
candidates with Decimal. The benchmark checks that its decisions are identical to the exact Decimal path for
every account (some accounts are placed exactly on their floor or daily limit, and a cent either side), then
prints the median time of a tick: ``rules_remark_ms_per_tick``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from libs.domain.instruments import instrument
from services.rules.domain.remark_screen import AccountFigures, RemarkOutcome, RemarkScreen, exact_decision

SYMBOLS = ["ES", "MES", "NQ", "MNQ", "YM", "CL", "GC", "6E", "ZN", "ZB"]
BASE = {
    "ES": Decimal("5000"),
    "MES": Decimal("5000"),
    "NQ": Decimal("18000"),
    "MNQ": Decimal("18000"),
    "YM": Decimal("39000"),
    "CL": Decimal("78"),
    "GC": Decimal("2350"),
    "6E": Decimal("1.085"),
    "ZN": Decimal("110.5"),
    "ZB": Decimal("118"),
}
CENT = Decimal("0.01")


def _equity(balance: Decimal, held: list[tuple[str, int, Decimal]], marks: dict[str, Decimal]) -> Decimal:
    return balance + sum(((marks[s] * q - c) * instrument(s).point_value for s, q, c in held), Decimal(0))


def build_accounts(
    rng: random.Random, positions: int, previous: dict[str, Decimal], marks: dict[str, Decimal]
) -> list[AccountFigures]:
    """Accounts that were within their rules at the previous marks (those that were not have been liquidated
    already); one in a hundred sits exactly on its floor at the new marks, one in a hundred exactly on its daily
    limit, or a cent either side."""
    accounts = []
    per_account = 2
    limit = Decimal(1000)
    for _ in range(positions // per_account):
        held = []
        for symbol in rng.sample(SYMBOLS, per_account):
            spec = instrument(symbol)
            qty = rng.choice((-5, -3, -2, -1, 1, 2, 3, 5))
            entry = BASE[symbol] + spec.tick_size * rng.randint(-40, 40)
            held.append((symbol, qty, entry * qty))
        balance = Decimal(50000) + CENT * rng.randint(-300_000, 300_000)
        before = _equity(balance, held, previous)
        floor = before - CENT * rng.randint(10_000, 300_000)
        baseline = before + CENT * rng.randint(-50_000, 90_000)
        high_water_mark = before + CENT * rng.randint(0, 100_000)
        edge = rng.random()
        if edge < 0.01:
            floor = _equity(balance, held, marks) + CENT * rng.choice((-1, 0, 1))
        elif edge < 0.02:
            baseline = _equity(balance, held, marks) + limit + CENT * rng.choice((-1, 0, 1))
        accounts.append(
            AccountFigures(
                balance=balance,
                floor=floor,
                high_water_mark=high_water_mark,
                intraday_trailing=rng.random() < 0.3,
                daily_loss_baseline=baseline,
                daily_loss_limit=limit,
                positions=tuple(held),
            )
        )
    return accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    rng = random.Random(7)
    previous = {symbol: BASE[symbol] + instrument(symbol).tick_size * rng.randint(-8, 8) for symbol in SYMBOLS}
    # The tick: every symbol moves a few ticks from its previous mark.
    marks = {symbol: price + instrument(symbol).tick_size * rng.randint(-4, 4) for symbol, price in previous.items()}
    accounts = build_accounts(rng, args.positions, previous, marks)
    screen = RemarkScreen(accounts)

    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        decided = screen.decide(marks)
        timings.append(time.perf_counter() - started)

    started = time.perf_counter()
    exact = {index: exact_decision(figures, marks) for index, figures in enumerate(accounts)}
    exact_seconds = time.perf_counter() - started
    exact = {index: outcome for index, outcome in exact.items() if outcome is not RemarkOutcome.NONE}
    if decided != exact:
        raise SystemExit(f"screen and exact Decimal path disagree on {len(set(decided.items()) ^ set(exact.items()))}")
    counts: dict[str, int] = {}
    for outcome in decided.values():
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
    positions = sum(len(figures.positions) for figures in accounts)
    print(
        f"positions: {positions}, accounts: {len(accounts)}, symbols: {len(SYMBOLS)}, decisions: {counts}, "
        f"identical to the exact Decimal path: yes (which takes {exact_seconds * 1000:.0f} ms)"
    )
    print(f"rules_remark_ms_per_tick: {statistics.median(timings) * 1000:.1f}")


if __name__ == "__main__":
    main()
