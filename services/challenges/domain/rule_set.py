"""Validation of a program phase's rule set, in the replay `rule_set` JSON format (shared/scenarios/README.md).

A rule set is snapshotted onto every trading account created from the program, so a bad one would misjudge real
traders for the life of those accounts: every field is checked here, unknown fields are refused (a typo must not
silently switch a rule off), and the error names the field's path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from libs.domain.errors import InvalidArgument
from libs.domain.money import MoneyError, to_decimal


class InvalidRuleSet(InvalidArgument):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"rule set field {field}: {problem}", field=field, reason="INVALID_RULE_SET")


_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_SYMBOL = re.compile(r"^[0-9A-Z]{1,6}$")


def _obj(value: Any, path: str, allowed: set[str], required: set[str] = frozenset()) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRuleSet(path, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidRuleSet(f"{path}.{unknown[0]}", "is not a known field")
    for name in sorted(required):
        if name not in value or value[name] is None:
            raise InvalidRuleSet(f"{path}.{name}", "is required")
    return value


def _dec(value: Any, path: str, *, minimum: Decimal | None = Decimal(0), positive: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidRuleSet(path, 'must be a decimal string such as "2500.00"')
    try:
        number = to_decimal(value, field=path)
    except MoneyError:
        raise InvalidRuleSet(path, f"{value!r} is not a decimal number") from None
    if positive and number <= 0:
        raise InvalidRuleSet(path, f"must be greater than 0, got {value}")
    if minimum is not None and number < minimum:
        raise InvalidRuleSet(path, f"must not be negative, got {value}")
    return value


def _int(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRuleSet(path, "must be an integer")
    if value < minimum:
        raise InvalidRuleSet(path, f"must be at least {minimum}, got {value}")
    return value


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidRuleSet(path, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _hhmm(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise InvalidRuleSet(path, "must be a time of day HH:MM")
    return value


def _optional(block: Any, path: str, check: Callable[[Any, str], None]) -> None:
    if block is not None:
        check(block, path)


def _day_boundary(v: Any, p: str) -> None:
    _obj(v, p, {"timezone", "eod_snapshot", "day_roll"}, {"timezone", "eod_snapshot", "day_roll"})
    if not isinstance(v["timezone"], str):
        raise InvalidRuleSet(f"{p}.timezone", "must be an IANA zone name")
    try:
        ZoneInfo(v["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRuleSet(f"{p}.timezone", f"{v['timezone']!r} is not an IANA zone name") from None
    _hhmm(v["eod_snapshot"], f"{p}.eod_snapshot")
    _hhmm(v["day_roll"], f"{p}.day_roll")


def _drawdown(v: Any, p: str) -> None:
    _obj(v, p, {"mode", "max_loss", "lock", "floor_to_start_on_payout"}, {"mode", "max_loss"})
    _choice(v["mode"], f"{p}.mode", ("static", "intraday_trailing", "eod_trailing"))
    _dec(v["max_loss"], f"{p}.max_loss", positive=True)
    lock = v.get("lock")
    if lock is not None:
        _obj(lock, f"{p}.lock", {"kind", "amount"}, {"kind"})
        kind = _choice(lock["kind"], f"{p}.lock.kind", ("none", "start", "start_plus"))
        if kind == "start_plus":
            if lock.get("amount") is None:
                raise InvalidRuleSet(f"{p}.lock.amount", "is required when kind is start_plus")
            _dec(lock["amount"], f"{p}.lock.amount")
    if "floor_to_start_on_payout" in v and not isinstance(v["floor_to_start_on_payout"], bool):
        raise InvalidRuleSet(f"{p}.floor_to_start_on_payout", "must be true or false")


def _daily_loss(v: Any, p: str) -> None:
    _obj(v, p, {"amount", "breach", "steps"}, {"amount", "breach"})
    _dec(v["amount"], f"{p}.amount", positive=True)
    _choice(v["breach"], f"{p}.breach", ("soft", "hard"))
    steps = v.get("steps") or []
    if not isinstance(steps, list):
        raise InvalidRuleSet(f"{p}.steps", "must be a list")
    for i, step in enumerate(steps):
        sp = f"{p}.steps[{i}]"
        _obj(step, sp, {"eod_balance_at_least", "amount"}, {"eod_balance_at_least", "amount"})
        _dec(step["eod_balance_at_least"], f"{sp}.eod_balance_at_least")
        _dec(step["amount"], f"{sp}.amount", positive=True)


def _profit_target(v: Any, p: str) -> None:
    _obj(v, p, {"amount"}, {"amount"})
    _dec(v["amount"], f"{p}.amount", positive=True)


def _min_days(v: Any, p: str) -> None:
    _obj(v, p, {"count", "counts_if", "threshold"}, {"count", "counts_if"})
    _int(v["count"], f"{p}.count", minimum=1)
    rule = _choice(v["counts_if"], f"{p}.counts_if", ("any_fill", "position_opened", "net_pnl_at_least"))
    if rule == "net_pnl_at_least":
        if v.get("threshold") is None:
            raise InvalidRuleSet(f"{p}.threshold", "is required when counts_if is net_pnl_at_least")
        _dec(v["threshold"], f"{p}.threshold", minimum=None)


def _consistency(v: Any, p: str) -> None:
    _obj(v, p, {"max_ratio", "compare", "mode"}, {"max_ratio", "compare", "mode"})
    _dec(v["max_ratio"], f"{p}.max_ratio", positive=True)
    if Decimal(v["max_ratio"]) > 1:
        raise InvalidRuleSet(f"{p}.max_ratio", "must be at most 1")
    _choice(v["compare"], f"{p}.compare", ("lt", "le"))
    _choice(v["mode"], f"{p}.mode", ("gate", "raise_target"))


def _max_contracts(v: Any, p: str) -> None:
    _obj(v, p, {"limit", "micro_weight", "enforcement", "scaling"}, {"limit", "enforcement"})
    _dec(v["limit"], f"{p}.limit", positive=True)
    if v.get("micro_weight") is not None:
        _dec(v["micro_weight"], f"{p}.micro_weight", positive=True)
    _choice(v["enforcement"], f"{p}.enforcement", ("pre_trade_reject", "post_trade_violation"))
    tiers = v.get("scaling") or []
    if not isinstance(tiers, list):
        raise InvalidRuleSet(f"{p}.scaling", "must be a list")
    for i, tier in enumerate(tiers):
        tp = f"{p}.scaling[{i}]"
        _obj(tier, tp, {"eod_balance_above", "limit"}, {"eod_balance_above", "limit"})
        _dec(tier["eod_balance_above"], f"{tp}.eod_balance_above")
        _dec(tier["limit"], f"{tp}.limit", positive=True)


def _flat_by(v: Any, p: str) -> None:
    _obj(v, p, {"time", "action"}, {"time", "action"})
    _hhmm(v["time"], f"{p}.time")
    _choice(v["action"], f"{p}.action", ("auto_flatten", "violation"))


def _news(v: Any, p: str) -> None:
    _obj(v, p, {"before_seconds", "after_seconds"}, {"before_seconds", "after_seconds"})
    _int(v["before_seconds"], f"{p}.before_seconds", minimum=0)
    _int(v["after_seconds"], f"{p}.after_seconds", minimum=0)


def _fees(v: Any, p: str) -> None:
    if not isinstance(v, Mapping):
        raise InvalidRuleSet(p, "must be an object of symbol to fee")
    for symbol, fee in v.items():
        if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
            raise InvalidRuleSet(f"{p}.{symbol}", "is not an instrument symbol")
        _dec(fee, f"{p}.{symbol}")


_BLOCKS: dict[str, Callable[[Any, str], None]] = {
    "day_boundary": _day_boundary,
    "drawdown": _drawdown,
    "daily_loss_limit": _daily_loss,
    "profit_target": _profit_target,
    "min_trading_days": _min_days,
    "consistency": _consistency,
    "max_contracts": _max_contracts,
    "flat_by": _flat_by,
    "news": _news,
    "fees_per_side": _fees,
}


def validate_rule_set(value: Any, path: str = "rule_set") -> dict[str, Any]:
    """Check a rule set completely; return it unchanged (a plain dict) or raise InvalidRuleSet naming the field."""
    _obj(value, path, {"start_balance", *_BLOCKS}, {"start_balance", "drawdown"})
    _dec(value["start_balance"], f"{path}.start_balance")
    for name, check in _BLOCKS.items():
        _optional(value.get(name), f"{path}.{name}", check)
    return dict(value)
