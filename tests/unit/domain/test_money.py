from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.domain.money import Currency, Money, MoneyError

amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=9, allow_nan=False)


def test_a_float_is_refused_because_it_already_carries_binary_error():
    with pytest.raises(MoneyError, match="float"):
        Money.of(0.1)  # type: ignore[arg-type]


def test_strings_ints_and_decimals_are_exact():
    assert Money.of("0.1") + Money.of("0.2") == Money.of("0.3")
    assert Money.of(5).amount == Decimal(5)


def test_nan_infinity_and_junk_are_refused():
    for bad in ("NaN", "Infinity", "12,50", "abc", ""):
        with pytest.raises(MoneyError):
            Money.of(bad)


def test_mixing_currencies_is_an_error_not_a_conversion():
    with pytest.raises(MoneyError, match="USD with EUR"):
        Money.of("1", "USD") + Money.of("1", "EUR")


def test_a_zn_tick_stays_exact_until_rounded_with_a_named_mode():
    tick = Money.of("15.625")
    assert (tick * 3).amount == Decimal("46.875")
    assert tick.quantize("ROUND_DOWN").amount == Decimal("15.62")
    assert tick.quantize("ROUND_HALF_EVEN").amount == Decimal("15.62")
    assert tick.quantize("ROUND_HALF_UP").amount == Decimal("15.63")


def test_minor_units_refuse_sub_cent_amounts_unless_told_how_to_round():
    assert Money.of("249.00").to_minor_units() == 24900
    with pytest.raises(MoneyError, match="finer"):
        Money.of("15.625").to_minor_units()
    assert Money.of("15.625").to_minor_units(rounding="ROUND_DOWN") == 1562
    assert Money.of("100", "JPY").to_minor_units() == 100


def test_negative_amounts_are_allowed_for_signed_figures():
    loss = Money.of("-2500.00")
    assert loss.is_negative and abs(loss) == Money.of("2500.00")


@given(amounts)
def test_units_nanos_round_trip_is_exact(amount):
    money = Money(amount, Currency.USD)
    units, nanos = money.to_units_nanos()
    assert (units >= 0 and nanos >= 0) or (units <= 0 and nanos <= 0)
    assert Money.from_units_nanos(units, nanos, "USD").amount == amount


@given(amounts, amounts)
def test_addition_is_exact_and_commutative(a, b):
    assert (Money(a) + Money(b)).amount == a + b
    assert Money(a) + Money(b) == Money(b) + Money(a)


def test_wire_amounts_read_back_in_the_currency_scale():
    assert str(Money.from_units_nanos(5000, 0, "USD").amount) == "5000.00"
    assert str(Money.from_units_nanos(15, 625_000_000, "USD").amount) == "15.625"
    with pytest.raises(MoneyError, match="same sign"):
        Money.from_units_nanos(1, -5, "USD")
