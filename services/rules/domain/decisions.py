"""The engine's decisions, as domain events that carry their evidence.

Each decision names the rule, the instant, what triggered it (the trade event, or the scheduled boundary whose
instant passed) and the figures that made it, so support staff can answer "why was my account failed at
10:01?" from the event alone. Money figures are exact Decimals, never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from libs.domain.events import DomainEvent
from services.rules.domain.trade_events import Side, TradeEvent


class BoundaryKind(StrEnum):
    """Scheduled instants that fire between events (the calendar's own plus the rule set's)."""

    FLAT_BY = "flat_by"
    NEWS_WINDOW_START = "news_window_start"
    EOD_SNAPSHOT = "eod_snapshot"
    DAY_ROLL = "day_roll"
    SESSION_OPEN = "session_open"


@dataclass(frozen=True, slots=True)
class Boundary:
    at: datetime
    kind: BoundaryKind
    trade_date: date
    title: str = ""  # the news release, for news windows


Trigger = TradeEvent | Boundary


class RuleName(StrEnum):
    MAX_LOSS = "max_loss"
    DAILY_LOSS = "daily_loss"
    MAX_CONTRACTS = "max_contracts"
    FLAT_BY = "flat_by"
    NEWS = "news"


class RejectReason(StrEnum):
    ACCOUNT_FAILED = "account_failed"
    LOCKED_OUT = "locked_out"
    MAX_CONTRACTS = "max_contracts"
    FLAT_BY = "flat_by"
    NEWS = "news"


@dataclass(frozen=True, kw_only=True)
class BreachDetected(DomainEvent):
    """Equity crossed the drawdown floor (hard) or the daily loss limit (soft or hard)."""

    rule: RuleName
    severity: str  # "hard" | "soft"
    equity: Decimal
    floor: Decimal | None = None
    day_pnl: Decimal | None = None
    limit: Decimal | None = None
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class LiquidationFill:
    symbol: str
    side: Side  # the closing side: sell for a long position
    qty: int
    price: Decimal
    realized_pnl: Decimal  # price P&L before fees
    fee: Decimal


@dataclass(frozen=True, kw_only=True)
class PositionsLiquidated(DomainEvent):
    reason: RuleName
    fills: tuple[LiquidationFill, ...]
    trigger: Trigger


@dataclass(frozen=True, kw_only=True)
class OrderAccepted(DomainEvent):
    symbol: str
    side: Side
    qty: int


@dataclass(frozen=True, kw_only=True)
class OrderRejected(DomainEvent):
    symbol: str
    side: Side
    qty: int
    reason: RejectReason
    exposure_after: Decimal | None = None
    limit: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class ViolationRecorded(DomainEvent):
    """A conduct rule was broken; it is recorded for review and does not fail the account by itself."""

    rule: RuleName
    symbol: str | None
    trigger: Trigger
    exposure: Decimal | None = None
    limit: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class EndOfDayRecorded(DomainEvent):
    trade_date: date
    balance: Decimal
    day_pnl: Decimal
    floor: Decimal
    high_water_mark: Decimal
    trading_days: int
    daily_loss_limit: Decimal | None  # in force for the next trading day
    max_contracts: Decimal | None  # in force for the next trading day


@dataclass(frozen=True, kw_only=True)
class PhasePassed(DomainEvent):
    trade_date: date
    balance: Decimal
    profit: Decimal
    effective_target: Decimal
    trading_days: int
    consistency_ratio: Decimal | None


Decision = (
    BreachDetected
    | PositionsLiquidated
    | OrderAccepted
    | OrderRejected
    | ViolationRecorded
    | EndOfDayRecorded
    | PhasePassed
)
