"""Quote coalescing (ADR 0062) keeps, per symbol and between fills of it, the lowest, highest and last quote: for an
account holding that symbol, no skipped quote could have decided something the kept ones do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from libs.domain.rule_set import parse_rule_set
from services.rules.application.coalesce_quotes import coalesce_quotes
from services.rules.application.incoming import QUOTE, TRADE, IncomingEvent
from services.rules.application.risk_runner import StoredEvent, replay
from services.rules.domain.account_risk import AccountRisk, AccountStatus
from services.rules.domain.trade_events import Fill, Mark, Side

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)


def quote(n: int, **prices: Decimal) -> IncomingEvent:
    at = T0 + timedelta(milliseconds=n)
    marks = tuple(Mark(at=at, symbol=symbol, price=price) for symbol, price in prices.items())
    return IncomingEvent(f"q{n}", QUOTE, None, None, at, {}, "", marks=marks)


def fill(n: int, symbol: str, side: Side, price: Decimal) -> IncomingEvent:
    at = T0 + timedelta(milliseconds=n)
    return IncomingEvent(f"f{n}", TRADE, "acct", None, at, {}, "", fill=Fill(at, symbol, side, 1, price, Decimal(0)))


def es_price(ticks: int) -> Decimal:
    return Decimal("5000.00") + Decimal("0.25") * ticks


def test_the_lowest_highest_and_last_quote_of_a_symbol_are_kept_and_the_rest_skipped():
    prices = [3, -8, 5, 12, -2, 1]
    events = [(i, quote(i, ES=es_price(p))) for i, p in enumerate(prices)]
    # 1 and 3 are also the ends of the highest rise; the deepest fall is 3 -> 4
    assert coalesce_quotes(events) == {1, 3, 4, 5}


def test_a_fill_of_the_symbol_ends_the_run_so_the_quotes_after_it_are_judged_on_their_own():
    events = [(0, quote(0, ES=es_price(-9))), (1, quote(1, ES=es_price(0))), (2, quote(2, ES=es_price(1)))]
    events.append((3, fill(3, "ES", Side.BUY, es_price(1))))
    events += [(4, quote(4, ES=es_price(-3))), (5, quote(5, ES=es_price(-1))), (6, quote(6, ES=es_price(2)))]
    events.append((7, quote(7, ES=es_price(0))))
    kept = coalesce_quotes(events)
    assert {0, 2} <= kept and 4 in kept and 6 in kept and 7 in kept and 5 not in kept


def test_a_quote_of_several_symbols_is_kept_when_any_of_its_symbols_needs_it():
    events = [
        (0, quote(0, ES=es_price(0), NQ=Decimal("20000.00"))),
        (1, quote(1, ES=es_price(-5))),
        (2, quote(2, ES=es_price(5))),
        (3, quote(3, ES=es_price(1), NQ=Decimal("19990.00"))),
        (4, quote(4, ES=es_price(2))),
    ]
    assert coalesce_quotes(events) == {0, 1, 2, 3, 4}  # NQ's highest is quote 0, its lowest quote 3


@given(
    st.lists(st.integers(min_value=-200, max_value=200), min_size=1, max_size=40),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["static", "intraday_trailing"]),
)
def test_coalescing_never_hides_a_breach_or_a_high_water_mark_a_single_quote_would_cause(ticks, side, qty, mode):
    """One account holding one ES position: the coalesced quotes decide exactly what all the quotes decide (the
    breach, its rule, and for an intraday-trailing floor the floor the highest equity sets), ending in the same
    figures."""
    drawdown = {"mode": mode, "max_loss": "600.00", "lock": {"kind": "none"}}
    rule_set = parse_rule_set({"start_balance": "50000.00", "drawdown": drawdown})
    opening = Fill(T0, "ES", side, qty, es_price(0), Decimal(0))
    quotes = [quote(i + 1, ES=es_price(t)) for i, t in enumerate(ticks)]
    kept = coalesce_quotes([(i, q) for i, q in enumerate(quotes)])

    def run(selected: list[IncomingEvent]) -> AccountRisk:
        risk = AccountRisk(rule_set)
        risk.apply(opening)
        replay(risk, [StoredEvent(n + 1, q.provider_event_id, None, q.marks) for n, q in enumerate(selected)])
        return risk

    everything = run(quotes)
    coalesced = run([q for i, q in enumerate(quotes) if i in kept])
    assert coalesced.status == everything.status
    if everything.status is AccountStatus.FAILED:
        # The same rule, decided at the same quote or a later one of the batch, never earlier.
        assert coalesced.failure[0] == everything.failure[0] and coalesced.failure[1] >= everything.failure[1]
    else:
        assert (coalesced.equity, coalesced.floor, coalesced.high_water_mark) == (
            everything.equity,
            everything.floor,
            everything.high_water_mark,
        )
