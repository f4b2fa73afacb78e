import pytest

from services.challenges.domain.rule_set import InvalidRuleSet, validate_rule_set
from tests.unit.challenges.factories import rule_set


def refused(rs: dict) -> InvalidRuleSet:
    with pytest.raises(InvalidRuleSet) as info:
        validate_rule_set(rs)
    return info.value


def test_the_scenario_readme_rule_set_is_accepted_unchanged():
    rs = rule_set()
    assert validate_rule_set(rs) == rs


def test_optional_blocks_may_be_null_or_absent():
    rs = {"start_balance": "0", "drawdown": {"mode": "static", "max_loss": "2000"}, "news": None}
    assert validate_rule_set(rs)["news"] is None


def test_a_negative_amount_is_refused_naming_the_field():
    rs = rule_set()
    rs["daily_loss_limit"]["amount"] = "-1000.00"
    error = refused(rs)
    assert error.field == "rule_set.daily_loss_limit.amount"
    assert error.reason == "INVALID_RULE_SET"


def test_an_unknown_drawdown_mode_is_refused_naming_the_field():
    rs = rule_set()
    rs["drawdown"]["mode"] = "trailing_sometimes"
    assert refused(rs).field == "rule_set.drawdown.mode"


def test_a_missing_required_field_is_refused_naming_it():
    rs = rule_set()
    del rs["drawdown"]["max_loss"]
    assert refused(rs).field == "rule_set.drawdown.max_loss"
    rs = rule_set()
    del rs["start_balance"]
    assert refused(rs).field == "rule_set.start_balance"


def test_a_misspelt_field_is_refused_rather_than_silently_ignored():
    rs = rule_set()
    rs["daily_loss_limt"] = rs.pop("daily_loss_limit")
    assert refused(rs).field == "rule_set.daily_loss_limt"


def test_amounts_must_be_decimal_strings_not_json_numbers():
    rs = rule_set()
    rs["drawdown"]["max_loss"] = 2500.0
    assert refused(rs).field == "rule_set.drawdown.max_loss"


def test_start_plus_lock_needs_its_amount():
    rs = rule_set()
    del rs["drawdown"]["lock"]["amount"]
    assert refused(rs).field == "rule_set.drawdown.lock.amount"


def test_net_pnl_trading_days_need_a_threshold():
    rs = rule_set()
    rs["min_trading_days"] = {"count": 3, "counts_if": "net_pnl_at_least"}
    assert refused(rs).field == "rule_set.min_trading_days.threshold"


def test_an_unknown_time_zone_and_a_bad_time_are_refused():
    rs = rule_set()
    rs["day_boundary"]["timezone"] = "Mars/Olympus"
    assert refused(rs).field == "rule_set.day_boundary.timezone"
    rs = rule_set()
    rs["flat_by"]["time"] = "25:10"
    assert refused(rs).field == "rule_set.flat_by.time"


def test_a_consistency_cap_above_one_is_refused():
    rs = rule_set()
    rs["consistency"]["max_ratio"] = "1.5"
    assert refused(rs).field == "rule_set.consistency.max_ratio"


def test_scaling_tiers_are_checked_one_by_one():
    rs = rule_set()
    rs["max_contracts"]["scaling"].append({"eod_balance_above": "54000.00"})
    assert refused(rs).field == "rule_set.max_contracts.scaling[1].limit"
