"""Instrument specs (CME group) and price parsing, Treasury points-and-32nds included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from libs.domain.instruments import INSTRUMENTS, InvalidPrice, UnknownInstrument, instrument, parse_price

REQUIRED = ["ES", "MES", "NQ", "MNQ", "YM", "MYM", "RTY", "M2K", "CL", "MCL", "GC", "MGC", "6E", "ZN", "ZB"]


def test_every_required_symbol_has_a_spec() -> None:
    assert set(REQUIRED) <= set(INSTRUMENTS)


@pytest.mark.parametrize("symbol", REQUIRED)
def test_a_tick_is_worth_tick_size_times_point_value(symbol: str) -> None:
    spec = instrument(symbol)
    assert spec.tick_size * spec.point_value == spec.tick_value


@pytest.mark.parametrize(
    ("symbol", "tick_value", "exchange", "micro"),
    [
        ("ES", "12.50", "CME", False),
        ("MES", "1.25", "CME", True),
        ("ZN", "15.625", "CBOT", False),
        ("ZB", "31.25", "CBOT", False),
        ("6E", "6.25", "CME", False),
        ("MCL", "1.00", "NYMEX", True),
        ("MGC", "1.00", "COMEX", True),
    ],
)
def test_specs_match_the_contract_specifications(symbol: str, tick_value: str, exchange: str, micro: bool) -> None:
    spec = instrument(symbol)
    assert spec.tick_value == Decimal(tick_value)
    assert spec.exchange == exchange
    assert spec.is_micro is micro


def test_exactly_the_micro_contracts_are_micro() -> None:
    assert {s for s, spec in INSTRUMENTS.items() if spec.is_micro} == {
        "MES",
        "MNQ",
        "MYM",
        "M2K",
        "MCL",
        "MGC",
    }


def test_an_unknown_symbol_is_refused() -> None:
    with pytest.raises(UnknownInstrument, match="XX"):
        instrument("XX")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("110-16", "110.5"),
        ("110-00", "110"),
        ("126-165", "126.515625"),
        ("110-162", "110.5078125"),
        ("110-317", "110.9921875"),
        ("110.5", "110.5"),
        ("-0-08", "-0.25"),
    ],
)
def test_treasury_prices_parse_from_points_and_32nds(text: str, expected: str) -> None:
    assert parse_price(instrument("ZN"), text) == Decimal(expected)


def test_a_zn_tick_is_fifteen_dollars_and_five_eighths_exactly() -> None:
    spec = instrument("ZN")
    assert spec.pnl(parse_price(spec, "110-16"), parse_price(spec, "110-165"), 1) == Decimal("15.625")
    assert spec.is_on_tick(parse_price(spec, "110-165"))
    assert not spec.is_on_tick(parse_price(spec, "110-162"))


@pytest.mark.parametrize("text", ["110-32", "110-1", "110-163", "abc", "", "NaN", "Infinity"])
def test_malformed_treasury_prices_are_refused(text: str) -> None:
    with pytest.raises(InvalidPrice):
        parse_price(instrument("ZN"), text)


def test_points_and_32nds_are_refused_for_instruments_not_quoted_that_way() -> None:
    with pytest.raises(InvalidPrice, match="32nds"):
        parse_price(instrument("ES"), "5000-16")


@pytest.mark.parametrize("value", [5000.25, True, None, ["1"]])
def test_floats_and_non_numbers_are_not_prices(value: object) -> None:
    with pytest.raises(InvalidPrice):
        parse_price(instrument("ES"), value)


def test_plain_decimal_prices_keep_their_exact_value() -> None:
    assert parse_price(instrument("6E"), "1.08505") == Decimal("1.08505")
    assert parse_price(instrument("YM"), 39000) == Decimal(39000)
