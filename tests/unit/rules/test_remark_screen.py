"""The vectorised re-marking screen decides exactly what the Decimal path decides, boundaries included."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from libs.domain.instruments import instrument
from libs.domain.rule_set import parse_rule_set
from services.rules.domain.account_risk import AccountRisk
from services.rules.domain.decisions import BreachDetected, RuleName
from services.rules.domain.remark_screen import AccountFigures, RemarkOutcome, RemarkScreen, exact_decision
from services.rules.domain.trade_events import Fill, Mark, Side
from tests.unit.rules.strategies import START

SYMBOLS = ["ES", "MES", "NQ", "ZN", "6E", "MYM"]
BASE = {"ES": "5000", "MES": "5000", "NQ": "18000", "ZN": "110.5", "6E": "1.085", "MYM": "39000"}
CENT = Decimal("0.01")


def _price(symbol: str, ticks: int) -> Decimal:
    return Decimal(BASE[symbol]) + instrument(symbol).tick_size * ticks


def _equity(balance: Decimal, held: tuple, marks: dict[str, Decimal]) -> Decimal:
    return balance + sum(((marks[s] * q - c) * instrument(s).point_value for s, q, c in held), Decimal(0))


@st.composite
def accounts_and_marks(draw: st.DrawFn) -> tuple[list[AccountFigures], dict[str, Decimal]]:
    marks = {symbol: _price(symbol, draw(st.integers(-50, 50))) for symbol in SYMBOLS}
    accounts = []
    for _ in range(draw(st.integers(min_value=1, max_value=30))):
        symbols = draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=3))
        held = tuple(
            (symbol, qty, _price(symbol, draw(st.integers(-50, 50))) * qty)
            for symbol in symbols
            for qty in [draw(st.sampled_from([-3, -1, 1, 2, 4]))]
        )
        balance = Decimal(50000) + CENT * draw(st.integers(-100_000, 100_000))
        equity = _equity(balance, held, marks)
        # Place floor, daily limit and high-water mark on the boundary, a cent either side, or far away.
        nudge = st.sampled_from([Decimal(0), CENT, -CENT, Decimal("0.001"), Decimal(500), Decimal(-500)])
        limit = draw(st.sampled_from([None, Decimal(1000)]))
        accounts.append(
            AccountFigures(
                balance=balance,
                floor=equity + draw(nudge),
                high_water_mark=equity + draw(nudge),
                intraday_trailing=draw(st.booleans()),
                daily_loss_baseline=equity + (limit or 0) + draw(nudge),
                daily_loss_limit=limit,
                positions=held,
            )
        )
    return accounts, marks


@given(case=accounts_and_marks())
def test_the_screen_decides_what_the_exact_decimal_path_decides(
    case: tuple[list[AccountFigures], dict[str, Decimal]],
) -> None:
    accounts, marks = case
    expected = {i: exact_decision(figures, marks) for i, figures in enumerate(accounts)}
    expected = {i: outcome for i, outcome in expected.items() if outcome is not RemarkOutcome.NONE}
    assert RemarkScreen(accounts).decide(marks) == expected


def test_equity_exactly_on_the_floor_is_no_breach_and_a_cent_below_is() -> None:
    held = (("ES", 1, Decimal(5000)),)
    marks = {"ES": Decimal("4980.00")}
    on_floor = AccountFigures(Decimal(50000), Decimal(49000), Decimal(50000), False, Decimal(0), None, held)
    below = AccountFigures(Decimal(50000), Decimal("49000.01"), Decimal(50000), False, Decimal(0), None, held)
    assert RemarkScreen([on_floor, below]).decide(marks) == {1: RemarkOutcome.MAX_LOSS}


def test_figures_finer_than_the_scale_are_confirmed_exactly_not_dropped() -> None:
    held = (("ES", 1, Decimal(5000)),)
    marks = {"ES": Decimal("4980.00")}
    tiny = AccountFigures(Decimal(50000), Decimal("49000.000000001"), Decimal(50000), False, Decimal(0), None, held)
    screen = RemarkScreen([tiny])
    assert screen.candidates(marks).tolist() == [0]
    assert screen.decide(marks) == {0: RemarkOutcome.MAX_LOSS}


def test_an_account_without_positions_is_never_a_candidate() -> None:
    flat = AccountFigures(Decimal(50000), Decimal(48000), Decimal(50000), True, Decimal(50000), Decimal(1000), ())
    held = AccountFigures(
        Decimal(50000),
        Decimal(48000),
        Decimal(50000),
        False,
        Decimal(50000),
        Decimal(1000),
        (("NQ", -2, Decimal(-36000)),),
    )
    assert RemarkScreen([flat, held]).decide({"NQ": Decimal("18030")}) == {1: RemarkOutcome.DAILY_LOSS}


RULES = parse_rule_set(
    {
        "start_balance": "50000.00",
        "drawdown": {"mode": "intraday_trailing", "max_loss": "1500.00", "lock": {"kind": "none"}},
        "daily_loss_limit": {"amount": "900.00", "breach": "soft"},
        "fees_per_side": {"ES": "2.50", "NQ": "2.50", "ZN": "1.10"},
    }
)


@given(
    symbol=st.sampled_from(["ES", "NQ", "ZN"]),
    fills=st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 3), st.integers(-20, 20)),
        min_size=1,
        max_size=5,
    ),
    tick=st.integers(-120, 120),
)
@example(  # a soft breach whose liquidation fees then cross the floor (found by the long profile)
    symbol="NQ",
    fills=[(Side.BUY, 1, 0), (Side.BUY, 2, 0), (Side.BUY, 3, 0), (Side.SELL, 1, 1), (Side.SELL, 2, 0)],
    tick=-98,
)
def test_the_screen_agrees_with_the_engine_on_a_mark(symbol: str, fills: list, tick: int) -> None:
    account = AccountRisk(RULES)
    for side, qty, ticks in fills:
        account.apply(Fill(at=START, symbol=symbol, side=side, qty=qty, price=_price(symbol, ticks)))
    if account.status.value != "active":
        return
    figures = AccountFigures.of(account)
    marks = {symbol: _price(symbol, tick)}
    decided = RemarkScreen([figures]).decide(marks).get(0, RemarkOutcome.NONE)

    engine = AccountRisk.from_snapshot(RULES, json.loads(json.dumps(account.to_snapshot())))
    decisions = engine.apply(Mark(at=START, symbol=symbol, price=marks[symbol]))
    breaches = [d.rule.value for d in decisions if isinstance(d, BreachDetected)]
    if decided is RemarkOutcome.MAX_LOSS:
        assert breaches == ["max_loss"]
    elif decided is RemarkOutcome.DAILY_LOSS:
        # The screen finds the breach the mark causes; what the soft breach's liquidation then does is the engine's
        # to decide: its fees can take equity below the floor, a max_loss at the same instant (ADR 0015).
        assert breaches[0] == "daily_loss"
        assert breaches[1:] in ([], ["max_loss"])
        if breaches[1:]:
            assert engine.equity < engine.floor and engine.failure == (RuleName.MAX_LOSS, START)
    else:
        assert breaches == []
        assert (decided is RemarkOutcome.HIGH_WATER_MARK) == (engine.high_water_mark > account.high_water_mark)
