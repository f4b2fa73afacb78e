"""The rule-set format: every number of a program's rules, parsed from its JSON form with every field checked.

A rule set is a contract between services: the challenges service validates it and snapshots it onto every
trading account, the rules service enforces it. This module is the one definition of that format, so both read
it the same way. The semantics are fixed by shared/rules-spec.md; the numbers are data.

Every block other than ``start_balance`` and ``drawdown`` may be absent or null (the rule is off). A field that
is present but wrong is refused with its path, never defaulted; an unknown field is refused too (a typo must not
silently switch a rule off); amounts are decimal strings, never JSON numbers (a float cannot hold 0.1 exactly).
"""

from __future__ import annotations

import re
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
    """A rule set that cannot be used. ``field`` is the path from the root named ``rule_set``
    (``rule_set.drawdown.mode``); ``path_inside`` is the same path inside the rule set (``drawdown.mode``, empty
    for the rule set itself), so a caller that holds the rule set under another name can say where it is."""

    def __init__(self, path_inside: str, problem: str) -> None:
        field = f"rule_set.{path_inside}" if path_inside else "rule_set"
        super().__init__(f"{field}: {problem}", field=field, reason="INVALID_RULE_SET")
        self.path_inside = path_inside
        self.problem = problem


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
_ONE = Decimal(1)
_E = TypeVar("_E", bound=Enum)
_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")


# -- parsing -------------------------------------------------------------------------------------------------
def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _object(value: Any, path: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleSetError(path, f"expected an object, got {type(value).__name__}")
    unknown = sorted(str(name) for name in value if name not in allowed)
    if unknown:
        raise RuleSetError(_join(path, unknown[0]), "is not a known field")
    return value


def _field(block: Mapping[str, Any], name: str, path: str) -> Any:
    value = block.get(name)
    if value is None:
        raise RuleSetError(_join(path, name), "missing field")
    return value


def _amount(value: Any, path: str, *, minimum: Decimal | None = _ZERO, positive: bool = False) -> Decimal:
    """An exact decimal from a decimal string; JSON numbers, bools and junk are refused with the field's path."""
    if not isinstance(value, str):
        raise RuleSetError(path, f'{value!r} is not a decimal string such as "2500.00"')
    try:
        result = to_decimal(value, field=path)
    except MoneyError:
        raise RuleSetError(path, f"{value!r} is not a decimal number") from None
    if minimum is not None and result < minimum:
        raise RuleSetError(path, f"{value!r} must be at least {minimum}")
    if positive and result <= 0:
        raise RuleSetError(path, f"{value!r} must be greater than zero")
    return result


def _integer(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleSetError(path, f"{value!r} is not an integer")
    if value < minimum:
        raise RuleSetError(path, f"{value!r} must be at least {minimum}")
    return value


def _choice(enum: type[_E], value: Any, path: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise RuleSetError(path, f"{value!r} is not one of {allowed}") from None


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise RuleSetError(path, f"{value!r} is not true or false")
    return value


def _wall_time(value: Any, path: str) -> time:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise RuleSetError(path, f"{value!r} is not a time of day HH:MM")
    return parse_wall_time(value, field=path)


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RuleSetError(path, "expected a list")
    return value


def _parse_calendar(block: Mapping[str, Any] | None) -> TradingCalendar:
    if block is None:
        return TradingCalendar.cme()
    path = "day_boundary"
    _object(block, path, frozenset({"timezone", "eod_snapshot", "day_roll"}))
    timezone = _field(block, "timezone", path)
    if not isinstance(timezone, str):
        raise RuleSetError(f"{path}.timezone", f"{timezone!r} is not an IANA time zone name")
    eod = _wall_time(_field(block, "eod_snapshot", path), f"{path}.eod_snapshot")
    roll = _wall_time(_field(block, "day_roll", path), f"{path}.day_roll")
    try:
        return TradingCalendar(timezone, eod, roll)
    except CalendarConfigError as error:
        # An unknown zone is the timezone's fault; a snapshot after the roll is the pair's.
        text = str(error)
        if text.startswith("timezone: "):
            raise RuleSetError(f"{path}.timezone", text.removeprefix("timezone: ")) from None
        raise RuleSetError(path, text) from None


def _parse_drawdown(block: Any) -> Drawdown:
    path = "drawdown"
    block = _object(block, path, frozenset({"mode", "max_loss", "lock", "floor_to_start_on_payout"}))
    mode = _choice(DrawdownMode, _field(block, "mode", path), f"{path}.mode")
    max_loss = _amount(_field(block, "max_loss", path), f"{path}.max_loss", positive=True)
    lock, lock_amount = LockKind.NONE, _ZERO
    lock_block = block.get("lock")
    if lock_block is not None:
        lock_path = f"{path}.lock"
        lock_block = _object(lock_block, lock_path, frozenset({"kind", "amount"}))
        lock = _choice(LockKind, _field(lock_block, "kind", lock_path), f"{lock_path}.kind")
        if lock is LockKind.START_PLUS:
            lock_amount = _amount(_field(lock_block, "amount", lock_path), f"{lock_path}.amount")
    payout_floor = block.get("floor_to_start_on_payout")
    return Drawdown(
        mode,
        max_loss,
        lock,
        lock_amount,
        False if payout_floor is None else _boolean(payout_floor, f"{path}.floor_to_start_on_payout"),
    )


def _parse_daily_loss(block: Mapping[str, Any] | None) -> DailyLossLimit | None:
    if block is None:
        return None
    path = "daily_loss_limit"
    _object(block, path, frozenset({"amount", "breach", "steps"}))
    amount = _amount(_field(block, "amount", path), f"{path}.amount", positive=True)
    breach = _choice(Severity, _field(block, "breach", path), f"{path}.breach")
    steps = []
    for index, raw in enumerate(_list(block.get("steps"), f"{path}.steps")):
        step_path = f"{path}.steps[{index}]"
        step = _object(raw, step_path, frozenset({"eod_balance_at_least", "amount"}))
        steps.append(
            DailyLossStep(
                _amount(_field(step, "eod_balance_at_least", step_path), f"{step_path}.eod_balance_at_least"),
                _amount(_field(step, "amount", step_path), f"{step_path}.amount", positive=True),
            )
        )
    return DailyLossLimit(amount, breach, tuple(steps))


def _parse_profit_target(block: Mapping[str, Any] | None) -> Decimal | None:
    if block is None:
        return None
    path = "profit_target"
    _object(block, path, frozenset({"amount"}))
    return _amount(_field(block, "amount", path), f"{path}.amount", positive=True)


def _parse_min_days(block: Mapping[str, Any] | None) -> MinTradingDays | None:
    if block is None:
        return None
    path = "min_trading_days"
    _object(block, path, frozenset({"count", "counts_if", "threshold"}))
    count = _integer(_field(block, "count", path), f"{path}.count", minimum=1)
    counts_if = _choice(TradingDayCounting, _field(block, "counts_if", path), f"{path}.counts_if")
    threshold = None
    if counts_if is TradingDayCounting.NET_PNL_AT_LEAST:
        threshold = _amount(_field(block, "threshold", path), f"{path}.threshold", minimum=None)
    return MinTradingDays(count, counts_if, threshold)


def _parse_consistency(block: Mapping[str, Any] | None) -> Consistency | None:
    if block is None:
        return None
    path = "consistency"
    _object(block, path, frozenset({"max_ratio", "compare", "mode", "window"}))
    max_ratio = _amount(_field(block, "max_ratio", path), f"{path}.max_ratio", positive=True)
    if max_ratio > _ONE:
        # The best day is part of the total, so a cap above 1 could never bind.
        raise RuleSetError(f"{path}.max_ratio", f"{block['max_ratio']!r} must be at most 1")
    window = block.get("window")
    return Consistency(
        max_ratio=max_ratio,
        compare=_choice(RatioComparison, _field(block, "compare", path), f"{path}.compare"),
        mode=_choice(ConsistencyMode, _field(block, "mode", path), f"{path}.mode"),
        window=ConsistencyWindow.SINCE_PAYOUT
        if window is None
        else _choice(ConsistencyWindow, window, f"{path}.window"),
    )


def _parse_max_contracts(block: Mapping[str, Any] | None) -> MaxContracts | None:
    if block is None:
        return None
    path = "max_contracts"
    _object(block, path, frozenset({"limit", "micro_weight", "enforcement", "scaling"}))
    tiers = []
    for index, raw in enumerate(_list(block.get("scaling"), f"{path}.scaling")):
        tier_path = f"{path}.scaling[{index}]"
        tier = _object(raw, tier_path, frozenset({"eod_balance_above", "limit"}))
        tiers.append(
            ScalingTier(
                _amount(_field(tier, "eod_balance_above", tier_path), f"{tier_path}.eod_balance_above"),
                _amount(_field(tier, "limit", tier_path), f"{tier_path}.limit", positive=True),
            )
        )
    micro_weight = block.get("micro_weight")
    return MaxContracts(
        limit=_amount(_field(block, "limit", path), f"{path}.limit", positive=True),
        micro_weight=_ONE if micro_weight is None else _amount(micro_weight, f"{path}.micro_weight", positive=True),
        enforcement=_choice(Enforcement, _field(block, "enforcement", path), f"{path}.enforcement"),
        scaling=tuple(tiers),
    )


def _parse_flat_by(block: Mapping[str, Any] | None) -> FlatBy | None:
    if block is None:
        return None
    path = "flat_by"
    _object(block, path, frozenset({"time", "action"}))
    at = _wall_time(_field(block, "time", path), f"{path}.time")
    return FlatBy(at, _choice(FlatByAction, _field(block, "action", path), f"{path}.action"))


def _parse_news(block: Mapping[str, Any] | None) -> NewsRule | None:
    if block is None:
        return None
    path = "news"
    _object(block, path, frozenset({"before_seconds", "after_seconds"}))
    return NewsRule(
        before_seconds=_integer(_field(block, "before_seconds", path), f"{path}.before_seconds", minimum=0),
        after_seconds=_integer(_field(block, "after_seconds", path), f"{path}.after_seconds", minimum=0),
    )


def _parse_fees(block: Mapping[str, Any] | None) -> Mapping[str, Decimal]:
    if block is None:
        return {}
    fees = {}
    for symbol, amount in block.items():
        if symbol not in INSTRUMENTS:
            raise RuleSetError(f"fees_per_side.{symbol}", f"unknown symbol {symbol!r}")
        fees[symbol] = _amount(amount, f"fees_per_side.{symbol}")
    return fees


_BLOCKS = frozenset(
    {
        "start_balance",
        "day_boundary",
        "drawdown",
        "daily_loss_limit",
        "profit_target",
        "min_trading_days",
        "consistency",
        "max_contracts",
        "flat_by",
        "news",
        "fees_per_side",
    }
)


def _optional_block(block: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = block.get(name)
    if value is not None and not isinstance(value, Mapping):
        raise RuleSetError(name, f"expected an object, got {type(value).__name__}")
    return value


def parse_rule_set(raw: Any) -> RuleSet:
    """The rule set in ``raw`` (its JSON form), or RuleSetError naming the first wrong field."""
    block = _object(raw, "", _BLOCKS)
    return RuleSet(
        start_balance=_amount(_field(block, "start_balance", ""), "start_balance"),
        calendar=_parse_calendar(_optional_block(block, "day_boundary")),
        drawdown=_parse_drawdown(_field(block, "drawdown", "")),
        daily_loss_limit=_parse_daily_loss(_optional_block(block, "daily_loss_limit")),
        profit_target=_parse_profit_target(_optional_block(block, "profit_target")),
        min_trading_days=_parse_min_days(_optional_block(block, "min_trading_days")),
        consistency=_parse_consistency(_optional_block(block, "consistency")),
        max_contracts=_parse_max_contracts(_optional_block(block, "max_contracts")),
        flat_by=_parse_flat_by(_optional_block(block, "flat_by")),
        news=_parse_news(_optional_block(block, "news")),
        fees_per_side=_parse_fees(_optional_block(block, "fees_per_side")),
    )
