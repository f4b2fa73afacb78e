"""The rule set: every number of a program's rules, parsed from its JSON form with every field validated.

The semantics are fixed by shared/rules-spec.md; the numbers are data (a rule set is versioned and snapshotted
onto each trading account). Every block other than ``start_balance`` and ``drawdown`` may be absent or null
(the rule is off). A field that is present but wrong is refused with its path, never defaulted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, TypeVar

from libs.domain.calendar import CalendarConfigError, TradingCalendar, parse_wall_time
from libs.domain.errors import InvalidArgument
from libs.domain.instruments import INSTRUMENTS
from libs.domain.money import MoneyError, to_decimal


class RuleSetError(InvalidArgument):
    """A rule set that cannot be used; the message starts with the field's path (``rule_set.drawdown.mode: ...``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field=message.split(":", 1)[0], reason="INVALID_RULE_SET")


class DrawdownMode(StrEnum):
    STATIC = "static"
    INTRADAY_TRAILING = "intraday_trailing"
    EOD_TRAILING = "eod_trailing"


class LockKind(StrEnum):
    NONE = "none"
    START = "start"
    START_PLUS = "start_plus"


class Severity(StrEnum):
    SOFT = "soft"
    HARD = "hard"


class TradingDayCounting(StrEnum):
    ANY_FILL = "any_fill"
    POSITION_OPENED = "position_opened"
    NET_PNL_AT_LEAST = "net_pnl_at_least"


class RatioComparison(StrEnum):
    LT = "lt"
    LE = "le"


class ConsistencyMode(StrEnum):
    GATE = "gate"
    RAISE_TARGET = "raise_target"


class ConsistencyWindow(StrEnum):
    PHASE = "phase"
    SINCE_PAYOUT = "since_payout"


class Enforcement(StrEnum):
    PRE_TRADE_REJECT = "pre_trade_reject"
    POST_TRADE_VIOLATION = "post_trade_violation"


class FlatByAction(StrEnum):
    AUTO_FLATTEN = "auto_flatten"
    VIOLATION = "violation"


@dataclass(frozen=True, slots=True)
class Drawdown:
    mode: DrawdownMode
    max_loss: Decimal
    lock: LockKind
    lock_amount: Decimal  # only for start_plus; 0 otherwise
    floor_to_start_on_payout: bool


@dataclass(frozen=True, slots=True)
class DailyLossStep:
    eod_balance_at_least: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DailyLossLimit:
    amount: Decimal
    breach: Severity
    steps: tuple[DailyLossStep, ...]


@dataclass(frozen=True, slots=True)
class MinTradingDays:
    count: int
    counts_if: TradingDayCounting
    threshold: Decimal | None  # for net_pnl_at_least


@dataclass(frozen=True, slots=True)
class Consistency:
    max_ratio: Decimal
    compare: RatioComparison
    mode: ConsistencyMode
    window: ConsistencyWindow


@dataclass(frozen=True, slots=True)
class ScalingTier:
    eod_balance_above: Decimal
    limit: Decimal


@dataclass(frozen=True, slots=True)
class MaxContracts:
    limit: Decimal
    micro_weight: Decimal
    enforcement: Enforcement
    scaling: tuple[ScalingTier, ...]

    def limit_for(self, previous_eod_balance: Decimal) -> Decimal:
        """The highest tier whose threshold the previous EOD balance strictly exceeds; else the base limit."""
        chosen_threshold: Decimal | None = None
        chosen = self.limit
        for tier in self.scaling:
            if previous_eod_balance > tier.eod_balance_above and (
                chosen_threshold is None or tier.eod_balance_above > chosen_threshold
            ):
                chosen_threshold = tier.eod_balance_above
                chosen = tier.limit
        return chosen


@dataclass(frozen=True, slots=True)
class FlatBy:
    time: time
    action: FlatByAction


@dataclass(frozen=True, slots=True)
class NewsRule:
    before_seconds: int
    after_seconds: int


@dataclass(frozen=True, slots=True)
class RuleSet:
    start_balance: Decimal
    calendar: TradingCalendar
    drawdown: Drawdown
    daily_loss_limit: DailyLossLimit | None
    profit_target: Decimal | None
    min_trading_days: MinTradingDays | None
    consistency: Consistency | None
    max_contracts: MaxContracts | None
    flat_by: FlatBy | None
    news: NewsRule | None
    fees_per_side: Mapping[str, Decimal]

    def fee_per_side(self, symbol: str) -> Decimal:
        return self.fees_per_side.get(symbol, _ZERO)


_ZERO = Decimal(0)
_E = TypeVar("_E", bound=Enum)


# -- parsing -------------------------------------------------------------------------------------------------
def _require_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleSetError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _field(block: Mapping[str, Any], name: str, path: str) -> Any:
    if name not in block:
        raise RuleSetError(f"{path}.{name}: missing field")
    return block[name]


def _optional_block(block: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any] | None:
    value = block.get(name)
    return None if value is None else _require_object(value, f"{path}.{name}")


def parse_decimal(value: Any, path: str, *, minimum: Decimal | None = None, positive: bool = False) -> Decimal:
    """An exact decimal from a string, int or Decimal; floats, bools and junk are refused with the field's path."""
    try:
        result = to_decimal(value, field=path)
    except MoneyError as error:
        raise RuleSetError(str(error)) from None
    if positive and result <= 0:
        raise RuleSetError(f"{path}: {value!r} must be greater than zero")
    if minimum is not None and result < minimum:
        raise RuleSetError(f"{path}: {value!r} must be at least {minimum}")
    return result


def _parse_int(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleSetError(f"{path}: {value!r} is not an integer")
    if value < minimum:
        raise RuleSetError(f"{path}: {value!r} must be at least {minimum}")
    return value


def _parse_enum(enum: type[_E], value: Any, path: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise RuleSetError(f"{path}: {value!r} is not one of {allowed}") from None


def _parse_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise RuleSetError(f"{path}: {value!r} is not true or false")
    return value


def _parse_calendar(block: Mapping[str, Any] | None) -> TradingCalendar:
    if block is None:
        return TradingCalendar.cme()
    path = "rule_set.day_boundary"
    timezone = block.get("timezone", "America/Chicago")
    if not isinstance(timezone, str):
        raise RuleSetError(f"{path}.timezone: {timezone!r} is not a time zone name")
    try:
        eod = parse_wall_time(block.get("eod_snapshot", "16:00"), field=f"{path}.eod_snapshot")
        roll = parse_wall_time(block.get("day_roll", "17:00"), field=f"{path}.day_roll")
        return TradingCalendar(timezone, eod, roll)
    except CalendarConfigError as error:
        raise RuleSetError(f"{path}: {error}") from None


def _parse_drawdown(block: Mapping[str, Any]) -> Drawdown:
    path = "rule_set.drawdown"
    mode = _parse_enum(DrawdownMode, _field(block, "mode", path), f"{path}.mode")
    max_loss = parse_decimal(_field(block, "max_loss", path), f"{path}.max_loss", positive=True)
    lock_block = block.get("lock")
    lock, lock_amount = LockKind.NONE, _ZERO
    if lock_block is not None:
        lock_block = _require_object(lock_block, f"{path}.lock")
        lock = _parse_enum(LockKind, _field(lock_block, "kind", f"{path}.lock"), f"{path}.lock.kind")
        if lock is LockKind.START_PLUS:
            lock_amount = parse_decimal(
                _field(lock_block, "amount", f"{path}.lock"), f"{path}.lock.amount", minimum=_ZERO
            )
    payout_floor = _parse_bool(block.get("floor_to_start_on_payout", False), f"{path}.floor_to_start_on_payout")
    return Drawdown(mode, max_loss, lock, lock_amount, payout_floor)


def _parse_daily_loss(block: Mapping[str, Any] | None) -> DailyLossLimit | None:
    if block is None:
        return None
    path = "rule_set.daily_loss_limit"
    amount = parse_decimal(_field(block, "amount", path), f"{path}.amount", positive=True)
    breach = _parse_enum(Severity, _field(block, "breach", path), f"{path}.breach")
    raw_steps = block.get("steps") or []
    if not isinstance(raw_steps, list):
        raise RuleSetError(f"{path}.steps: expected a list")
    steps = []
    for index, raw in enumerate(raw_steps):
        step_path = f"{path}.steps[{index}]"
        step = _require_object(raw, step_path)
        steps.append(
            DailyLossStep(
                parse_decimal(_field(step, "eod_balance_at_least", step_path), f"{step_path}.eod_balance_at_least"),
                parse_decimal(_field(step, "amount", step_path), f"{step_path}.amount", positive=True),
            )
        )
    return DailyLossLimit(amount, breach, tuple(steps))


def _parse_min_days(block: Mapping[str, Any] | None) -> MinTradingDays | None:
    if block is None:
        return None
    path = "rule_set.min_trading_days"
    count = _parse_int(_field(block, "count", path), f"{path}.count", minimum=0)
    counts_if = _parse_enum(TradingDayCounting, _field(block, "counts_if", path), f"{path}.counts_if")
    threshold = None
    if counts_if is TradingDayCounting.NET_PNL_AT_LEAST:
        threshold = parse_decimal(_field(block, "threshold", path), f"{path}.threshold")
    return MinTradingDays(count, counts_if, threshold)


def _parse_consistency(block: Mapping[str, Any] | None) -> Consistency | None:
    if block is None:
        return None
    path = "rule_set.consistency"
    return Consistency(
        max_ratio=parse_decimal(_field(block, "max_ratio", path), f"{path}.max_ratio", positive=True),
        compare=_parse_enum(RatioComparison, _field(block, "compare", path), f"{path}.compare"),
        mode=_parse_enum(ConsistencyMode, _field(block, "mode", path), f"{path}.mode"),
        window=_parse_enum(ConsistencyWindow, block.get("window", "since_payout"), f"{path}.window"),
    )


def _parse_max_contracts(block: Mapping[str, Any] | None) -> MaxContracts | None:
    if block is None:
        return None
    path = "rule_set.max_contracts"
    raw_tiers = block.get("scaling") or []
    if not isinstance(raw_tiers, list):
        raise RuleSetError(f"{path}.scaling: expected a list")
    tiers = []
    for index, raw in enumerate(raw_tiers):
        tier_path = f"{path}.scaling[{index}]"
        tier = _require_object(raw, tier_path)
        tiers.append(
            ScalingTier(
                parse_decimal(_field(tier, "eod_balance_above", tier_path), f"{tier_path}.eod_balance_above"),
                parse_decimal(_field(tier, "limit", tier_path), f"{tier_path}.limit", minimum=_ZERO),
            )
        )
    return MaxContracts(
        limit=parse_decimal(_field(block, "limit", path), f"{path}.limit", minimum=_ZERO),
        micro_weight=parse_decimal(block.get("micro_weight", "1"), f"{path}.micro_weight", minimum=_ZERO),
        enforcement=_parse_enum(Enforcement, _field(block, "enforcement", path), f"{path}.enforcement"),
        scaling=tuple(tiers),
    )


def _parse_flat_by(block: Mapping[str, Any] | None) -> FlatBy | None:
    if block is None:
        return None
    path = "rule_set.flat_by"
    try:
        at = parse_wall_time(_field(block, "time", path), field=f"{path}.time")
    except CalendarConfigError as error:
        raise RuleSetError(str(error)) from None
    return FlatBy(at, _parse_enum(FlatByAction, _field(block, "action", path), f"{path}.action"))


def _parse_news(block: Mapping[str, Any] | None) -> NewsRule | None:
    if block is None:
        return None
    path = "rule_set.news"
    return NewsRule(
        before_seconds=_parse_int(_field(block, "before_seconds", path), f"{path}.before_seconds", minimum=0),
        after_seconds=_parse_int(_field(block, "after_seconds", path), f"{path}.after_seconds", minimum=0),
    )


def _parse_fees(block: Mapping[str, Any] | None) -> Mapping[str, Decimal]:
    if block is None:
        return {}
    fees = {}
    for symbol, amount in block.items():
        if symbol not in INSTRUMENTS:
            raise RuleSetError(f"rule_set.fees_per_side: unknown symbol {symbol!r}")
        fees[symbol] = parse_decimal(amount, f"rule_set.fees_per_side.{symbol}", minimum=_ZERO)
    return fees


def parse_rule_set(raw: Any) -> RuleSet:
    block = _require_object(raw, "rule_set")
    path = "rule_set"
    profit_block = _optional_block(block, "profit_target", path)
    profit_target = None
    if profit_block is not None:
        profit_target = parse_decimal(
            _field(profit_block, "amount", f"{path}.profit_target"),
            f"{path}.profit_target.amount",
            positive=True,
        )
    return RuleSet(
        start_balance=parse_decimal(_field(block, "start_balance", path), f"{path}.start_balance"),
        calendar=_parse_calendar(_optional_block(block, "day_boundary", path)),
        drawdown=_parse_drawdown(_require_object(_field(block, "drawdown", path), f"{path}.drawdown")),
        daily_loss_limit=_parse_daily_loss(_optional_block(block, "daily_loss_limit", path)),
        profit_target=profit_target,
        min_trading_days=_parse_min_days(_optional_block(block, "min_trading_days", path)),
        consistency=_parse_consistency(_optional_block(block, "consistency", path)),
        max_contracts=_parse_max_contracts(_optional_block(block, "max_contracts", path)),
        flat_by=_parse_flat_by(_optional_block(block, "flat_by", path)),
        news=_parse_news(_optional_block(block, "news", path)),
        fees_per_side=_parse_fees(_optional_block(block, "fees_per_side", path)),
    )
