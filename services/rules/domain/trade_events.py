"""What the engine is told: fills, marks, pre-trade orders, approved withdrawals and the passage of time.

These are inputs, already validated (known symbol, positive quantity, exact decimal prices, timezone-aware UTC
instants). Decisions the engine takes in answer are domain events (decisions.py) that point back at them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True)
class Fill:
    at: datetime
    symbol: str
    side: Side
    qty: int
    price: Decimal
    fee: Decimal | None = None  # the fill's total fee; None = the rule set's fees per side

    @property
    def kind(self) -> str:
        return "fill"


@dataclass(frozen=True, slots=True)
class Mark:
    at: datetime
    symbol: str
    price: Decimal

    @property
    def kind(self) -> str:
        return "mark"


@dataclass(frozen=True, slots=True)
class Order:
    """A pre-trade check: it does not change the position."""

    at: datetime
    symbol: str
    side: Side
    qty: int

    @property
    def kind(self) -> str:
        return "order"


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An approved payout leaving the account: it lowers the balance but is not a loss."""

    at: datetime
    amount: Decimal

    @property
    def kind(self) -> str:
        return "withdrawal"


@dataclass(frozen=True, slots=True)
class TimePassed:
    """Nothing happened but time: lets scheduled boundaries up to ``at`` fire."""

    at: datetime

    @property
    def kind(self) -> str:
        return "clock"


TradeEvent = Fill | Mark | Order | Withdrawal | TimePassed


@dataclass(frozen=True, slots=True)
class NewsEvent:
    """A scheduled economic release; ``instruments`` is None when it affects every instrument ("*")."""

    at: datetime
    title: str
    instruments: frozenset[str] | None

    def affects(self, symbol: str) -> bool:
        return self.instruments is None or symbol in self.instruments
