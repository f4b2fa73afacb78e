"""Instruments as the platform quotes them, and the random walk that moves their prices.

Tick sizes and point values come from libs.domain.instruments (the contract specifications), so a price the
simulator publishes is always one our rules engine accepts. Starting prices are round figures near where these
markets traded recently; only their tick alignment matters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from libs.domain.instruments import INSTRUMENTS, InstrumentSpec

STARTING_PRICES: dict[str, Decimal] = {
    "ES": Decimal("5800.00"),
    "MES": Decimal("5800.00"),
    "NQ": Decimal("20500.00"),
    "MNQ": Decimal("20500.00"),
    "YM": Decimal("43000"),
    "MYM": Decimal("43000"),
    "RTY": Decimal("2300.0"),
    "M2K": Decimal("2300.0"),
    "CL": Decimal("70.00"),
    "MCL": Decimal("70.00"),
    "GC": Decimal("2650.0"),
    "MGC": Decimal("2650.0"),
    "6E": Decimal("1.08000"),
    "ZN": Decimal("110.500000"),
    "ZB": Decimal("117.00000"),
}

# Commission and exchange fees per contract per side, as the platform charges them on each fill. The same
# figures as the seeded catalogue's fees_per_side, so a fill's `fees` matches what the rule set expects.
FEES_PER_SIDE: dict[str, Decimal] = {
    symbol: Decimal("0.75") if spec.is_micro else Decimal("1.75") if spec.quoted_in_32nds else Decimal("2.50")
    for symbol, spec in INSTRUMENTS.items()
}

_MONTH_CODES = "FGHJKMNQUVXZ"
# Energy and metals list a contract every month; equity index, FX and Treasury futures trade the March quarterly
# cycle (H, M, U, Z).
_MONTHLY = {"CL", "MCL", "GC", "MGC"}


def spec_of(symbol: str) -> InstrumentSpec | None:
    return INSTRUMENTS.get(symbol) if isinstance(symbol, str) else None


def contract_id(symbol: str, today: datetime) -> str:
    """The front contract in ProjectX's id style, e.g. CON.F.US.ES.Z26. Roll dates are ignored: next month for
    monthly products, the current or next quarter month otherwise."""
    month = today.month
    if symbol in _MONTHLY:
        month_index, year = month % 12, today.year + (1 if month == 12 else 0)
    else:
        quarter_month = ((month - 1) // 3 + 1) * 3  # 3, 6, 9 or 12
        month_index, year = quarter_month - 1, today.year
    return f"CON.F.US.{symbol}.{_MONTH_CODES[month_index]}{year % 100:02d}"


def format_price(price: Decimal, spec: InstrumentSpec) -> str:
    """At the tick's precision: ES "5800.25", ZN "110.515625", 6E "1.08005"."""
    return str(price.quantize(spec.tick_size))


def format_money(amount: Decimal) -> str:
    """Exact, with at least cents: 12.5 -> "12.50", a ZN tick 15.625 stays "15.625"."""
    normalized = amount.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]  # finite amounts only
        return str(amount.quantize(Decimal("0.01")))
    return str(normalized)


@dataclass
class Quote:
    symbol: str
    last: Decimal
    timestamp: datetime

    def public(self, contract: str) -> dict[str, str]:
        spec = INSTRUMENTS[self.symbol]
        # A one-tick spread around the last trade: realistic enough for a quote, and fills use lastPrice.
        return {
            "symbol": self.symbol,
            "contractId": contract,
            "lastPrice": format_price(self.last, spec),
            "bestBid": format_price(self.last - spec.tick_size, spec),
            "bestAsk": format_price(self.last + spec.tick_size, spec),
            "tickSize": str(spec.tick_size),
            "timestamp": iso(self.timestamp),
        }


def random_step(price: Decimal, spec: InstrumentSpec, rng: random.Random, max_ticks: int = 2) -> Decimal:
    """Up or down a whole number of ticks, never below one tick, so every published price stays on the grid."""
    moved = price + spec.tick_size * rng.randint(-max_ticks, max_ticks)
    return moved if moved >= spec.tick_size else spec.tick_size


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z, e.g. 2026-11-24T21:49:47.123456Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
