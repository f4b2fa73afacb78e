"""Money: an exact decimal amount in one currency.

Amounts are ``decimal.Decimal`` built only from ``str``, ``int`` or ``Decimal``: a ``float`` is refused because it
already carries binary error (``Decimal(0.1)`` silently keeps it). Money may be negative (ADR 0001): P&L,
drawdown distances and refunds are signed figures and one type for them keeps the arithmetic honest. Ledger lines,
which carry their sign in the debit/credit direction, check positivity themselves.

Trading figures stay exact (a ZN tick is $15.625); rounding happens only through :meth:`Money.quantize` with a
named rounding mode, at the edges where money leaves the trading domain (Stripe, ledger, payouts).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal

RoundingMode = Literal["ROUND_DOWN", "ROUND_HALF_EVEN", "ROUND_HALF_UP", "ROUND_UP", "ROUND_FLOOR", "ROUND_CEILING"]

# Minor-unit exponent per ISO 4217 currency we handle. A currency absent here is refused.
_MINOR_UNITS: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "CZK": 2, "JPY": 0}

NANOS_PER_UNIT = 1_000_000_000


class MoneyError(ValueError):
    """A value that cannot be a money amount (float, NaN, unknown currency, mixed currencies...)."""


class Currency(StrEnum):
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    CAD = "CAD"
    AUD = "AUD"
    CZK = "CZK"
    JPY = "JPY"

    @property
    def minor_unit_exponent(self) -> int:
        return _MINOR_UNITS[self.value]


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Turn ``str``/``int``/``Decimal`` into a finite Decimal; refuse floats, bools and junk with a clear error."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"{field}: {type(value).__name__} is not accepted for money, use a decimal string")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MoneyError(f"{field}: {value!r} is not a decimal number") from None
    else:
        raise MoneyError(f"{field}: {type(value).__name__} is not accepted for money")
    if not result.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite number")
    return result


def _display_scale(amount: Decimal, currency: Currency) -> Decimal:
    """The same number, written with the currency's minor units when that loses nothing (5000.00, not
    5000.000000000), else with just the digits it needs (15.625)."""
    exponent = Decimal(1).scaleb(-currency.minor_unit_exponent)
    quantized = amount.quantize(exponent)
    return quantized if quantized == amount else amount.normalize()


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: Currency = Currency.USD

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        if not isinstance(self.currency, Currency):
            try:
                object.__setattr__(self, "currency", Currency(str(self.currency).upper()))
            except ValueError:
                raise MoneyError(f"currency: {self.currency!r} is not a supported ISO 4217 code") from None

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str | Currency = Currency.USD) -> Money:
        if not isinstance(currency, Currency):
            try:
                currency = Currency(str(currency).upper())
            except ValueError:
                raise MoneyError(f"currency: {currency!r} is not a supported ISO 4217 code") from None
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: Currency = Currency.USD) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor_units(cls, minor: int, currency: Currency = Currency.USD) -> Money:
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise MoneyError("minor units must be an integer")
        return cls(Decimal(minor).scaleb(-currency.minor_unit_exponent), currency)

    @classmethod
    def from_units_nanos(cls, units: int, nanos: int, currency: str) -> Money:
        """The google.type.Money / dynasty.common.v1.Money wire shape: units and nanos share a sign."""
        if not -NANOS_PER_UNIT < nanos < NANOS_PER_UNIT:
            raise MoneyError("nanos must be within (-1e9, 1e9)")
        if (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
            raise MoneyError("units and nanos must have the same sign")
        try:
            currency_ = Currency(currency.upper())
        except ValueError:
            raise MoneyError(f"currency: {currency!r} is not a supported ISO 4217 code") from None
        return cls(_display_scale(Decimal(units) + Decimal(nanos).scaleb(-9), currency_), currency_)

    # -- conversion ---------------------------------------------------------------------------------------------
    def to_units_nanos(self) -> tuple[int, int]:
        """Split into (units, nanos). Refuses amounts finer than a nano rather than silently rounding them."""
        scaled = self.amount.scaleb(9)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{self.amount} has more precision than the wire format's nanos")
        total = int(scaled)
        sign = -1 if total < 0 else 1
        units, nanos = divmod(abs(total), NANOS_PER_UNIT)  # integer arithmetic only: no float on the way
        return sign * units, sign * nanos

    def to_minor_units(self, rounding: RoundingMode | None = None) -> int:
        """Integer minor units for Stripe. Without a rounding mode, sub-cent amounts are an error, not a guess."""
        exponent = Decimal(1).scaleb(-self.currency.minor_unit_exponent)
        if rounding is None:
            quantized = self.amount.quantize(exponent)
            if quantized != self.amount:
                raise MoneyError(f"{self.amount} {self.currency.value} is finer than the currency's minor unit")
        else:
            quantized = self.amount.quantize(exponent, rounding=rounding)
        return int(quantized.scaleb(self.currency.minor_unit_exponent))

    def quantize(self, rounding: RoundingMode) -> Money:
        """Round to the currency's minor unit with an explicit, named rounding mode."""
        exponent = Decimal(1).scaleb(-self.currency.minor_unit_exponent)
        return Money(self.amount.quantize(exponent, rounding=rounding), self.currency)

    def floor_to_minor_unit(self) -> Money:
        return self.quantize(ROUND_DOWN)

    def round_half_even(self) -> Money:
        return self.quantize(ROUND_HALF_EVEN)

    # -- arithmetic ---------------------------------------------------------------------------------------------
    def _same_currency(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency is not self.currency:
            raise MoneyError(f"cannot combine {self.currency.value} with {other.currency.value}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same_currency(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same_currency(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise TypeError("Money can be multiplied by an int or a Decimal only")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same_currency(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same_currency(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same_currency(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same_currency(other).amount

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.value}"
