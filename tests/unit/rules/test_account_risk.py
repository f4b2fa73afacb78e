"""AccountRisk: decisions with their evidence, and the rules the scenario files do not pin down on their own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from libs.domain.rule_set import RuleSet, parse_rule_set
from services.rules.domain.account_risk import AccountRisk, AccountStatus, EventOutOfOrder
from services.rules.domain.decisions import (
    BreachDetected,
    EndOfDayRecorded,
    OrderRejected,
    PhasePassed,
    PositionsLiquidated,
    RejectReason,
    RuleName,
    ViolationRecorded,
)
from services.rules.domain.trade_events import Fill, Mark, NewsEvent, Order, Side, TimePassed, Withdrawal

CHICAGO = ZoneInfo("America/Chicago")
D = Decimal


def ct(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 2, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


def rules(**blocks: object) -> RuleSet:
    document = {
        "start_balance": "50000.00",
        "drawdown": {"mode": "static", "max_loss": "2000.00", "lock": {"kind": "none"}},
        **blocks,
    }
    return parse_rule_set(document)


def buy(at: datetime, price: str, qty: int = 1, symbol: str = "ES") -> Fill:
    return Fill(at=at, symbol=symbol, side=Side.BUY, qty=qty, price=D(price))


def sell(at: datetime, price: str, qty: int = 1, symbol: str = "ES") -> Fill:
    return Fill(at=at, symbol=symbol, side=Side.SELL, qty=qty, price=D(price))


def test_a_breach_carries_its_trigger_and_figures_as_a_domain_event() -> None:
    account = AccountRisk(rules())
    account.apply(buy(ct(2, 9), "5000"))
    mark = Mark(at=ct(2, 9, 5), symbol="ES", price=D("4959.75"))
    decisions = account.apply(mark)
    breach = next(d for d in decisions if isinstance(d, BreachDetected))
    assert breach.event_type == "BreachDetected"
    assert breach.trigger is mark
    assert breach.occurred_at == mark.at and breach.occurred_at.utcoffset() == timedelta(0)
    assert (breach.rule, breach.severity, breach.equity, breach.floor) == (
        RuleName.MAX_LOSS,
        "hard",
        D("47987.50"),
        D("48000.00"),
    )
    liquidation = next(d for d in decisions if isinstance(d, PositionsLiquidated))
    assert liquidation.fills[0].side is Side.SELL and liquidation.fills[0].realized_pnl == D("-2012.50")
    assert account.status is AccountStatus.FAILED and account.failure == (RuleName.MAX_LOSS, mark.at)


def test_an_event_earlier_than_the_last_one_is_refused() -> None:
    account = AccountRisk(rules())
    account.apply(TimePassed(at=ct(2, 10)))
    with pytest.raises(EventOutOfOrder):
        account.apply(TimePassed(at=ct(2, 9)))


def test_a_soft_daily_loss_is_recorded_once_per_trading_day() -> None:
    account = AccountRisk(rules(daily_loss_limit={"amount": "500.00", "breach": "soft"}))
    account.apply(buy(ct(2, 9), "5000"))
    first = account.apply(Mark(at=ct(2, 9, 1), symbol="ES", price=D("4990")))
    account.apply(buy(ct(2, 9, 2), "4990"))
    again = account.apply(Mark(at=ct(2, 9, 3), symbol="ES", price=D("4970")))
    assert [d.rule for d in first if isinstance(d, BreachDetected)] == [RuleName.DAILY_LOSS]
    assert not [d for d in again if isinstance(d, BreachDetected)]
    assert account.status is AccountStatus.LOCKED
    account.apply(sell(ct(2, 9, 4), "4970"))
    rejected = account.apply(Order(at=ct(2, 12), symbol="ES", side=Side.BUY, qty=1))
    assert isinstance(rejected[0], OrderRejected) and rejected[0].reason is RejectReason.LOCKED_OUT
    account.apply(TimePassed(at=ct(2, 17)))
    assert account.status is AccountStatus.ACTIVE


def test_after_a_hard_breach_fills_still_move_the_balance_and_orders_are_rejected() -> None:
    account = AccountRisk(rules(fees_per_side={"ES": "2.00"}))
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(Mark(at=ct(2, 9, 1), symbol="ES", price=D("4950")))
    assert account.status is AccountStatus.FAILED
    balance = account.balance
    assert account.apply(buy(ct(2, 9, 2), "4950")) == ()
    account.apply(sell(ct(2, 9, 3), "4940"))
    assert account.balance == balance - D(500) - D(4)
    (rejected,) = account.apply(Order(at=ct(2, 9, 4), symbol="ES", side=Side.SELL, qty=1))
    assert isinstance(rejected, OrderRejected) and rejected.reason is RejectReason.ACCOUNT_FAILED


@pytest.mark.parametrize(("payout_floor", "floor"), [(False, "49000.00"), (True, "50000.00")])
def test_a_withdrawal_lifts_the_floor_to_the_start_only_when_the_rule_set_says_so(
    payout_floor: bool, floor: str
) -> None:
    account = AccountRisk(
        rules(
            drawdown={
                "mode": "eod_trailing",
                "max_loss": "4000.00",
                "lock": {"kind": "none"},
                "floor_to_start_on_payout": payout_floor,
            }
        )
    )
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(sell(ct(2, 10), "5060"))
    account.apply(Withdrawal(at=ct(3, 8), amount=D("2000.00")))
    assert account.balance == D("51000.00")
    assert account.floor == D(floor)


def test_a_daily_loss_step_once_reached_stays_even_when_the_balance_falls_back() -> None:
    account = AccountRisk(
        rules(
            drawdown={"mode": "static", "max_loss": "5000.00", "lock": {"kind": "none"}},
            daily_loss_limit={
                "amount": "1000.00",
                "breach": "soft",
                "steps": [{"eod_balance_at_least": "51000.00", "amount": "2000.00"}],
            },
        )
    )
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(sell(ct(2, 10), "5020"))  # +1000: EOD balance 51,000
    assert account.daily_loss_limit == D("1000.00")  # not the same day
    account.apply(buy(ct(3, 9), "5000"))
    account.apply(sell(ct(3, 10), "4990"))  # -500: EOD balance 50,500, below the step
    eods = [d for d in account.apply(TimePassed(at=ct(4, 9))) if isinstance(d, EndOfDayRecorded)]
    assert [eod.daily_loss_limit for eod in eods] == [D("2000.00")]
    assert account.daily_loss_limit == D("2000.00")


def test_the_scaling_tier_is_recomputed_at_every_eod_and_can_fall() -> None:
    account = AccountRisk(
        rules(
            max_contracts={
                "limit": "2",
                "enforcement": "pre_trade_reject",
                "scaling": [{"eod_balance_above": "50500.00", "limit": "5"}],
            }
        )
    )
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(sell(ct(2, 10), "5020"))  # 51,000
    account.apply(TimePassed(at=ct(2, 17)))
    assert account.contract_limit == D(5)
    account.apply(buy(ct(3, 9), "5000"))
    account.apply(sell(ct(3, 10), "4985"))  # 50,250
    account.apply(TimePassed(at=ct(3, 17)))
    assert account.contract_limit == D(2)


def test_winning_days_count_by_day_pnl_and_the_target_passes_only_flat() -> None:
    account = AccountRisk(
        rules(
            profit_target={"amount": "500.00"},
            min_trading_days={"count": 2, "counts_if": "net_pnl_at_least", "threshold": "200.00"},
        )
    )
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(sell(ct(2, 10), "5004"))  # +200: a winning day
    account.apply(buy(ct(3, 9), "5000"))
    account.apply(sell(ct(3, 10), "5003"))  # +150: not one
    account.apply(buy(ct(4, 9), "5000"))
    account.apply(sell(ct(4, 10), "5006"))  # +300: the second, target 650 >= 500
    account.apply(buy(ct(4, 11), "5000"))  # ... but a position is open at the snapshot
    account.apply(TimePassed(at=ct(4, 16)))
    assert account.trading_days == 2 and account.status is AccountStatus.ACTIVE
    account.apply(sell(ct(5, 9), "5000"))
    passed = [d for d in account.apply(TimePassed(at=ct(5, 16))) if isinstance(d, PhasePassed)]
    assert [(p.trade_date.isoformat(), p.profit) for p in passed] == [("2026-02-05", D("650.00"))]


@pytest.mark.parametrize(("window", "restarted"), [(None, True), ("since_payout", True), ("phase", False)])
def test_a_payout_restarts_the_consistency_window_unless_the_rule_set_keeps_the_whole_phase(
    window: str | None, restarted: bool
) -> None:
    consistency = {"max_ratio": "0.5", "compare": "lt", "mode": "gate"}
    if window is not None:
        consistency["window"] = window
    account = AccountRisk(rules(profit_target={"amount": "100.00"}, consistency=consistency))
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(sell(ct(2, 10), "5040"))  # +2000 on one day
    account.apply(Withdrawal(at=ct(3, 8), amount=D("1500.00")))
    assert account.window_day_pnls == ([] if restarted else [D("2000.00")])
    assert not account.consistency_met()  # one winning day is a ratio of 1, and an empty window has no total


def _refuse_float(text: str) -> None:
    raise AssertionError(f"the snapshot holds a JSON float {text}; money must be a decimal string")


def test_the_snapshot_is_plain_json_without_floats_and_restores_the_same_state() -> None:
    rule_set = rules(daily_loss_limit={"amount": "700.00", "breach": "soft"})
    account = AccountRisk(rule_set)
    account.apply(buy(ct(2, 9), "110.5", qty=2, symbol="ZN"))
    account.apply(Mark(at=ct(2, 9, 1), symbol="ZN", price=D("110.515625")))
    text = json.dumps(account.to_snapshot())
    snapshot = json.loads(text, parse_float=_refuse_float)
    assert snapshot["positions"] == [{"symbol": "ZN", "lots": [["110.5", 2]]}]
    assert snapshot["marks"] == {"ZN": "110.515625"}
    restored = AccountRisk.from_snapshot(rule_set, snapshot)
    assert restored.equity == account.equity == D("50031.250000")
    assert restored.to_snapshot() == account.to_snapshot()


def test_intraday_trailing_floor_stops_at_start_plus_the_lock_amount() -> None:
    account = AccountRisk(
        rules(
            drawdown={
                "mode": "intraday_trailing",
                "max_loss": "2500.00",
                "lock": {"kind": "start_plus", "amount": "100.00"},
            }
        )
    )
    account.apply(buy(ct(2, 9), "5000"))
    account.apply(Mark(at=ct(2, 9, 1), symbol="ES", price=D("5100")))  # equity 55,000
    assert account.high_water_mark == D("55000.00")
    assert account.floor == D("50100.00")


def test_two_releases_at_one_minute_record_one_news_violation_per_open_symbol() -> None:
    news = (
        NewsEvent(at=ct(4, 7, 30), title="CPI", instruments=None),
        NewsEvent(at=ct(4, 7, 30), title="Jobless claims", instruments=frozenset({"ES"})),
    )
    account = AccountRisk(rules(news={"before_seconds": 120, "after_seconds": 120}), news)
    account.apply(buy(ct(4, 7), "5000"))
    account.apply(buy(ct(4, 7), "18000", symbol="NQ"))
    decisions = account.apply(TimePassed(at=ct(4, 7, 29)))
    violations = [(d.symbol, d.detail) for d in decisions if isinstance(d, ViolationRecorded)]
    assert violations == [
        ("ES", "position open at the start of the news window of CPI, Jobless claims"),
        ("NQ", "position open at the start of the news window of CPI"),
    ]


def test_a_soft_lockout_survives_a_snapshot_restore_with_the_instant_it_ends() -> None:
    rule_set = rules(daily_loss_limit={"amount": "300.00", "breach": "soft"})
    account = AccountRisk(rule_set)
    account.apply(buy(ct(6, 9), "5000"))
    account.apply(Mark(at=ct(6, 9, 5), symbol="ES", price=D("4994")))
    assert account.status is AccountStatus.LOCKED
    snapshot = json.loads(json.dumps(account.to_snapshot()))
    assert snapshot["lockout_until"] == ct(6, 17).isoformat()
    restored = AccountRisk.from_snapshot(rule_set, snapshot)
    rejected = restored.apply(Order(at=ct(6, 16, 59), symbol="ES", side=Side.BUY, qty=1))
    assert [d.reason for d in rejected if isinstance(d, OrderRejected)] == [RejectReason.LOCKED_OUT]
    restored.apply(TimePassed(at=ct(6, 17)))
    assert restored.status is AccountStatus.ACTIVE and restored.lockout_until is None


def test_a_flat_by_liquidation_whose_fee_crosses_the_floor_fails_the_account_at_the_flat_by() -> None:
    account = AccountRisk(
        rules(
            drawdown={"mode": "static", "max_loss": "1000.00"},
            flat_by={"time": "15:10", "action": "auto_flatten"},
            fees_per_side={"ES": "2.50"},
        )
    )
    account.apply(buy(ct(3, 9), "5000"))  # fee 2.50
    account.apply(Mark(at=ct(3, 15), symbol="ES", price=D("4980.05")))  # equity 49000.00 = floor survives
    decisions = account.apply(TimePassed(at=ct(3, 15, 30)))
    breach = next(d for d in decisions if isinstance(d, BreachDetected))
    assert (breach.rule, breach.occurred_at, breach.equity) == (RuleName.MAX_LOSS, ct(3, 15, 10), D("48997.50"))
    assert account.status is AccountStatus.FAILED and account.failure == (RuleName.MAX_LOSS, ct(3, 15, 10))


@pytest.mark.parametrize(
    ("enforcement", "qty", "over"), [("pre_trade_reject", 8, True), ("pre_trade_reject", 7, False)]
)
def test_an_order_that_keeps_exposure_above_a_fallen_limit_is_rejected(enforcement: str, qty: int, over: bool) -> None:
    account = AccountRisk(
        rules(max_contracts={"limit": "5", "micro_weight": "1", "enforcement": enforcement, "scaling": []})
    )
    account.apply(buy(ct(3, 9), "5000", qty=4))
    account.contract_limit = D(2)  # as if the scaling tier had fallen at the last EOD
    decisions = account.apply(Order(at=ct(3, 9, 5), symbol="ES", side=Side.SELL, qty=qty))
    rejected = [d.reason for d in decisions if isinstance(d, OrderRejected)]
    assert rejected == ([RejectReason.MAX_CONTRACTS] if over else [])


def test_a_fill_during_a_soft_lockout_is_applied_and_the_position_it_opens_is_a_violation() -> None:
    account = AccountRisk(rules(daily_loss_limit={"amount": "500.00", "breach": "soft"}))
    account.apply(buy(ct(3, 9), "5000"))
    account.apply(Mark(at=ct(3, 9, 5), symbol="ES", price=D("4990")))  # -500: soft breach, liquidated
    opening = account.apply(buy(ct(3, 10), "4990"))
    violations = [(d.rule, d.symbol, d.occurred_at) for d in opening if isinstance(d, ViolationRecorded)]
    assert violations == [(RuleName.DAILY_LOSS, "ES", ct(3, 10))]
    assert account.positions["ES"].net_qty == 1 and account.status is AccountStatus.LOCKED
    closing = account.apply(sell(ct(3, 10, 5), "4992"))
    assert not any(isinstance(d, ViolationRecorded) for d in closing)  # flattening what was left is fine
    assert account.balance == D("49600.00")


def test_a_withdrawal_that_takes_equity_below_the_floor_fails_the_account_at_the_withdrawal() -> None:
    account = AccountRisk(rules(daily_loss_limit={"amount": "500.00", "breach": "soft"}))  # floor 48000
    withdrawal = Withdrawal(at=ct(3, 8), amount=D("2000.01"))
    decisions = account.apply(withdrawal)
    breaches = [(d.rule, d.trigger, d.equity, d.floor) for d in decisions if isinstance(d, BreachDetected)]
    assert breaches == [(RuleName.MAX_LOSS, withdrawal, D("47999.99"), D("48000.00"))]  # no daily-loss breach
    assert account.failure == (RuleName.MAX_LOSS, ct(3, 8))


def test_a_soft_breach_in_the_maintenance_break_is_judged_on_the_closing_day_and_lifts_at_its_roll() -> None:
    account = AccountRisk(rules(daily_loss_limit={"amount": "500.00", "breach": "soft"}))
    account.apply(buy(ct(3, 16, 10), "5000"))  # after Tuesday's snapshot: Wednesday's figures
    decisions = account.apply(Mark(at=ct(3, 16, 20), symbol="ES", price=D("4990")))
    assert [d.rule for d in decisions if isinstance(d, BreachDetected)] == [RuleName.DAILY_LOSS]
    assert account.lockout_until == ct(3, 17)
    accepted = account.apply(Order(at=ct(3, 17), symbol="ES", side=Side.BUY, qty=1))
    assert not any(isinstance(d, OrderRejected) for d in accepted)
