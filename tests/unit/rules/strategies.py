"""Hypothesis strategies: rule sets and realistic event streams (fills, marks, orders, payouts, time passing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from libs.domain.instruments import instrument
from libs.domain.rule_set import RuleSet, parse_rule_set
from services.rules.domain.trade_events import Fill, Mark, NewsEvent, Order, Side, TimePassed, TradeEvent, Withdrawal

START = datetime(2026, 2, 2, 8, 0, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
BASE_PRICE = {"ES": Decimal("5000"), "MES": Decimal("5000"), "NQ": Decimal("18000"), "ZN": Decimal("110.5")}
SYMBOLS = sorted(BASE_PRICE)
NEWS = (NewsEvent(at=START + timedelta(hours=26), title="CPI", instruments=frozenset({"ES", "MES"})),)


def rule_set_document(
    mode: str, lock: str, dll: str | None, flat_by: bool, contracts: str | None, payout_floor: bool, zone: str
) -> dict:
    document: dict = {
        "start_balance": "50000.00",
        "drawdown": {
            "mode": mode,
            "max_loss": "2000.00",
            "lock": {"kind": lock, "amount": "100.00"} if lock == "start_plus" else {"kind": lock},
            "floor_to_start_on_payout": payout_floor,
        },
        "fees_per_side": {"ES": "2.50", "MES": "0.62", "NQ": "2.50", "ZN": "1.10"},
        "profit_target": {"amount": "3000.00"},
        "min_trading_days": {"count": 2, "counts_if": "any_fill"},
        "consistency": {"max_ratio": "0.5", "compare": "lt", "mode": "gate"},
        "news": {"before_seconds": 600, "after_seconds": 600},
    }
    if zone == "prague":
        document["day_boundary"] = {"timezone": "Europe/Prague", "eod_snapshot": "00:00", "day_roll": "00:00"}
    if dll is not None:
        document["daily_loss_limit"] = {
            "amount": "800.00",
            "breach": dll,
            "steps": [{"eod_balance_at_least": "51000.00", "amount": "1200.00"}],
        }
    if flat_by:
        document["flat_by"] = {"time": "15:10", "action": "auto_flatten"}
    if contracts is not None:
        document["max_contracts"] = {
            "limit": "4",
            "micro_weight": "0.1",
            "enforcement": contracts,
            "scaling": [{"eod_balance_above": "50500.00", "limit": "6"}],
        }
    return document


rule_set_documents = st.builds(
    rule_set_document,
    mode=st.sampled_from(["static", "intraday_trailing", "eod_trailing"]),
    lock=st.sampled_from(["none", "start", "start_plus"]),
    dll=st.sampled_from([None, "soft", "hard"]),
    flat_by=st.booleans(),
    contracts=st.sampled_from([None, "pre_trade_reject", "post_trade_violation"]),
    payout_floor=st.booleans(),
    zone=st.sampled_from(["cme", "cme", "prague"]),
)
rule_sets = rule_set_documents.map(parse_rule_set)


@st.composite
def event_streams(draw: st.DrawFn, *, max_size: int = 40, withdrawals: bool = True) -> list[TradeEvent]:
    """Events in time order; gaps of up to two days so EOD snapshots, rolls and weekends pass in between."""
    at = START
    events: list[TradeEvent] = []
    kinds = ["mark"] * 5 + ["fill"] * 3 + ["order", "clock"] + (["withdrawal"] if withdrawals else [])
    for _ in range(draw(st.integers(min_value=1, max_value=max_size))):
        at += timedelta(minutes=draw(st.sampled_from([0, 1, 7, 30, 90, 240, 600, 1440, 2880])))
        kind = draw(st.sampled_from(kinds))
        symbol = draw(st.sampled_from(SYMBOLS))
        spec = instrument(symbol)
        price = BASE_PRICE[symbol] + spec.tick_size * draw(st.integers(min_value=-300, max_value=300))
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        qty = draw(st.integers(min_value=1, max_value=3))
        if kind == "mark":
            events.append(Mark(at=at, symbol=symbol, price=price))
        elif kind == "fill":
            events.append(Fill(at=at, symbol=symbol, side=side, qty=qty, price=price))
        elif kind == "order":
            events.append(Order(at=at, symbol=symbol, side=side, qty=qty))
        elif kind == "withdrawal":
            events.append(Withdrawal(at=at, amount=Decimal(draw(st.integers(min_value=1, max_value=500)))))
        else:
            events.append(TimePassed(at=at))
    return events


def rule_set_of(document: dict) -> RuleSet:
    return parse_rule_set(document)
