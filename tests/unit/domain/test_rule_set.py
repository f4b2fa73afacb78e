"""The shared rule-set format (one definition for challenges and rules): every field validated, a wrong or
unknown field refused with its path."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from libs.domain.errors import InvalidArgument
from libs.domain.rule_set import (
    ConsistencyWindow,
    DrawdownMode,
    LockKind,
    RuleSetError,
    TradingDayCounting,
    parse_rule_set,
)

FULL = {
    "start_balance": "50000.00",
    "day_boundary": {"timezone": "Europe/Prague", "eod_snapshot": "00:00", "day_roll": "00:00"},
    "drawdown": {
        "mode": "intraday_trailing",
        "max_loss": "2500.00",
        "lock": {"kind": "start_plus", "amount": "100.00"},
        "floor_to_start_on_payout": True,
    },
    "daily_loss_limit": {
        "amount": "1000.00",
        "breach": "soft",
        "steps": [{"eod_balance_at_least": "53000.00", "amount": "2000.00"}],
    },
    "profit_target": {"amount": "3000.00"},
    "min_trading_days": {"count": 5, "counts_if": "net_pnl_at_least", "threshold": "150.00"},
    "consistency": {"max_ratio": "0.40", "compare": "lt", "mode": "gate", "window": "since_payout"},
    "max_contracts": {
        "limit": "5",
        "micro_weight": "0.1",
        "enforcement": "pre_trade_reject",
        "scaling": [
            {"eod_balance_above": "52000.00", "limit": "8"},
            {"eod_balance_above": "51000.00", "limit": "6"},
        ],
    },
    "flat_by": {"time": "15:10", "action": "auto_flatten"},
    "news": {"before_seconds": 120, "after_seconds": 60},
    "fees_per_side": {"ES": "2.50", "MES": "0.62"},
}


def test_a_full_rule_set_parses_into_exact_values() -> None:
    rules = parse_rule_set(FULL)
    assert rules.start_balance == Decimal("50000.00")
    assert rules.calendar.timezone_name == "Europe/Prague"
    assert rules.drawdown.mode is DrawdownMode.INTRADAY_TRAILING
    assert rules.drawdown.lock is LockKind.START_PLUS and rules.drawdown.lock_amount == Decimal(100)
    assert rules.min_trading_days is not None
    assert rules.min_trading_days.counts_if is TradingDayCounting.NET_PNL_AT_LEAST
    assert rules.min_trading_days.threshold == Decimal(150)
    assert rules.consistency is not None and rules.consistency.window is ConsistencyWindow.SINCE_PAYOUT
    assert rules.fee_per_side("MES") == Decimal("0.62")
    assert rules.fee_per_side("NQ") == 0


def test_absent_or_null_blocks_turn_their_rule_off_and_the_day_defaults_to_cme() -> None:
    rules = parse_rule_set(
        {
            "start_balance": "0",
            "drawdown": {"mode": "static", "max_loss": "2000"},
            "daily_loss_limit": None,
            "flat_by": None,
        }
    )
    assert rules.daily_loss_limit is None and rules.flat_by is None and rules.max_contracts is None
    assert rules.calendar.timezone_name == "America/Chicago"
    assert rules.drawdown.lock is LockKind.NONE


def test_the_scaling_tier_is_the_highest_threshold_strictly_exceeded() -> None:
    limits = parse_rule_set(FULL).max_contracts
    assert limits is not None
    assert limits.limit_for(Decimal("51000.00")) == 5  # equal is not above
    assert limits.limit_for(Decimal("51000.01")) == 6
    assert limits.limit_for(Decimal("52000.01")) == 8


def _with(path: tuple, value: object) -> dict:
    document = copy.deepcopy(FULL)
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("start_balance",), KeyError, "rule_set.start_balance: missing"),
        (("start_balance",), 50000.0, "rule_set.start_balance"),
        (("drawdown",), KeyError, "rule_set.drawdown: missing"),
        (("drawdown", "max_loss"), "0", "greater than zero"),
        (("drawdown", "mode"), "trailing", "rule_set.drawdown.mode"),
        (("drawdown", "lock", "amount"), KeyError, "rule_set.drawdown.lock.amount: missing"),
        (("drawdown", "floor_to_start_on_payout"), "yes", "true or false"),
        (("daily_loss_limit", "breach"), "medium", "rule_set.daily_loss_limit.breach"),
        (("daily_loss_limit", "steps", 0, "amount"), "x", "rule_set.daily_loss_limit.steps[0].amount"),
        (("min_trading_days", "threshold"), KeyError, "rule_set.min_trading_days.threshold: missing"),
        (("min_trading_days", "count"), "5", "not an integer"),
        (("consistency", "compare"), "lte", "rule_set.consistency.compare"),
        (("consistency", "window"), "forever", "rule_set.consistency.window"),
        (("max_contracts", "enforcement"), "block", "rule_set.max_contracts.enforcement"),
        (("max_contracts", "scaling", 1, "limit"), "-1", "at least 0"),
        (("flat_by", "time"), "3:10pm", "rule_set.flat_by.time"),
        (("news", "before_seconds"), -1, "at least 0"),
        (("fees_per_side", "XYZ"), "1.00", "unknown symbol 'XYZ'"),
        (("day_boundary", "timezone"), "Europe/Atlantis", "IANA"),
        (("day_boundary", "day_roll"), "12:00", "after day_roll"),
        (("day_boundary", "day_roll"), KeyError, "rule_set.day_boundary.day_roll: missing"),
        (("daily_loss_limt",), {}, "rule_set.daily_loss_limt: is not a known field"),
        (("drawdown", "lock", "amonut"), "1", "rule_set.drawdown.lock.amonut: is not a known field"),
        (("daily_loss_limit", "amount"), 1000, "rule_set.daily_loss_limit.amount: 1000 is not a decimal string"),
        (("consistency", "max_ratio"), "1.01", "rule_set.consistency.max_ratio: '1.01' must be at most 1"),
        (("min_trading_days", "count"), 0, "rule_set.min_trading_days.count: 0 must be at least 1"),
        (("max_contracts", "limit"), "0", "rule_set.max_contracts.limit: '0' must be greater than zero"),
        (("start_balance",), "-1.00", "rule_set.start_balance: '-1.00' must be at least 0"),
        (("flat_by", "time"), "24:00", "rule_set.flat_by.time"),
    ],
)
def test_a_wrong_field_is_refused_with_its_path(path: tuple, value: object, message: str) -> None:
    with pytest.raises(RuleSetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rule_set(_with(path, value))


def test_a_rule_set_error_is_an_invalid_argument_naming_its_field_for_the_grpc_mapping() -> None:
    with pytest.raises(RuleSetError) as refused:
        parse_rule_set(_with(("drawdown", "max_loss"), "lots"))
    assert isinstance(refused.value, InvalidArgument)
    assert refused.value.reason == "INVALID_RULE_SET"
    assert refused.value.field == "rule_set.drawdown.max_loss"


def test_the_error_names_the_path_inside_the_rule_set_for_callers_that_hold_it_elsewhere() -> None:
    with pytest.raises(RuleSetError) as refused:
        parse_rule_set(_with(("max_contracts", "scaling", 0, "limit"), None))
    assert refused.value.path_inside == "max_contracts.scaling[0].limit"
    assert refused.value.problem == "missing field"
    with pytest.raises(RuleSetError) as refused:
        parse_rule_set(["not", "an", "object"])
    assert (refused.value.path_inside, refused.value.field) == ("", "rule_set")


def test_the_challenges_adapter_uses_the_shared_parser_and_renames_the_root() -> None:
    from services.challenges.domain.rule_set import InvalidRuleSet, validate_rule_set

    assert validate_rule_set(FULL) == FULL
    with pytest.raises(InvalidRuleSet) as refused:
        validate_rule_set(_with(("fees_per_side", "XYZ"), "1.00"), path="phases[2].rule_set")
    assert refused.value.field == "phases[2].rule_set.fees_per_side.XYZ"
    assert refused.value.reason == "INVALID_RULE_SET"
