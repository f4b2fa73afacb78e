"""Instrument specs for the CME Group futures the firm allows, and price parsing.

P&L of a contract = price difference x point value, so the point value is the one figure every P&L uses; tick
size and tick value are kept because support staff and traders speak in ticks ("a ZN tick is $15.625"). All
figures are exact decimals taken from the contract specifications (shared/domain-notes.md section 9).

Treasury futures are quoted in points and 32nds: "110-16" is 110 16/32 = 110.5, and a third digit gives
quarters of a 32nd ("126-165" is 126 16.5/32). Every other instrument is quoted as a plain decimal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from libs.domain.errors import InvalidArgument


class UnknownInstrument(InvalidArgument):
    def __init__(self, symbol: object) -> None:
        super().__init__(f"unknown symbol {symbol!r}", field="symbol")
        self.symbol = symbol


class InvalidPrice(InvalidArgument):
    """A price that is not a decimal (or, for Treasuries, not points-and-32nds)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="price")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    symbol: str
    name: str
    exchange: str
    tick_size: Decimal
    tick_value: Decimal
    point_value: Decimal
    is_micro: bool
    quoted_in_32nds: bool = False

    def is_on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def pnl(self, entry: Decimal, exit_price: Decimal, signed_qty: int) -> Decimal:
        """Exact P&L of holding ``signed_qty`` contracts (negative = short) from ``entry`` to
        ``exit_price``."""
        return (exit_price - entry) * signed_qty * self.point_value


def _spec(
    symbol: str,
    name: str,
    exchange: str,
    tick_size: str,
    tick_value: str,
    point_value: str,
    *,
    micro: bool = False,
    in_32nds: bool = False,
) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=symbol,
        name=name,
        exchange=exchange,
        tick_size=Decimal(tick_size),
        tick_value=Decimal(tick_value),
        point_value=Decimal(point_value),
        is_micro=micro,
        quoted_in_32nds=in_32nds,
    )


INSTRUMENTS: Mapping[str, InstrumentSpec] = MappingProxyType(
    {
        spec.symbol: spec
        for spec in (
            _spec("ES", "E-mini S&P 500", "CME", "0.25", "12.50", "50"),
            _spec("MES", "Micro E-mini S&P 500", "CME", "0.25", "1.25", "5", micro=True),
            _spec("NQ", "E-mini Nasdaq-100", "CME", "0.25", "5.00", "20"),
            _spec("MNQ", "Micro E-mini Nasdaq-100", "CME", "0.25", "0.50", "2", micro=True),
            _spec("YM", "E-mini Dow ($5)", "CBOT", "1", "5.00", "5"),
            _spec("MYM", "Micro E-mini Dow", "CBOT", "1", "0.50", "0.5", micro=True),
            _spec("RTY", "E-mini Russell 2000", "CME", "0.1", "5.00", "50"),
            _spec("M2K", "Micro E-mini Russell 2000", "CME", "0.1", "0.50", "5", micro=True),
            _spec("CL", "WTI Crude Oil", "NYMEX", "0.01", "10.00", "1000"),
            _spec("MCL", "Micro WTI Crude Oil", "NYMEX", "0.01", "1.00", "100", micro=True),
            _spec("GC", "Gold", "COMEX", "0.1", "10.00", "100"),
            _spec("MGC", "Micro Gold", "COMEX", "0.1", "1.00", "10", micro=True),
            _spec("6E", "Euro FX", "CME", "0.00005", "6.25", "125000"),
            _spec("ZN", "10-Year T-Note", "CBOT", "0.015625", "15.625", "1000", in_32nds=True),
            _spec("ZB", "U.S. Treasury Bond", "CBOT", "0.03125", "31.25", "1000", in_32nds=True),
        )
    }
)


def instrument(symbol: str) -> InstrumentSpec:
    try:
        return INSTRUMENTS[symbol]
    except (KeyError, TypeError):
        raise UnknownInstrument(symbol) from None


# "110-16", "110-165", "-0-08"; the third digit of the fraction is in quarters of a 32nd as quoted by CME
_POINTS_AND_32NDS = re.compile(r"^(?P<sign>-?)(?P<points>\d+)-(?P<thirty_seconds>\d{2})(?P<quarter>[0257])?$")
_QUARTER_OF_32ND = {"0": Decimal(0), "2": Decimal("0.25"), "5": Decimal("0.5"), "7": Decimal("0.75")}


def parse_price(spec: InstrumentSpec, text: object) -> Decimal:
    """A price as exact Decimal: a decimal string or int for any instrument, points-and-32nds for
    Treasuries."""
    if isinstance(text, bool) or isinstance(text, float):
        raise InvalidPrice(f"price {text!r} is not a decimal string")
    if isinstance(text, Decimal | int):
        value = Decimal(text)
    elif isinstance(text, str):
        stripped = text.strip()
        match = _POINTS_AND_32NDS.fullmatch(stripped)
        if match is not None:
            if not spec.quoted_in_32nds:
                raise InvalidPrice(f"price {text!r}: {spec.symbol} is not quoted in points and 32nds")
            thirty_seconds = int(match["thirty_seconds"])
            if thirty_seconds >= 32:
                raise InvalidPrice(f"price {text!r}: {thirty_seconds} is not a number of 32nds (0-31)")
            fraction = (Decimal(thirty_seconds) + _QUARTER_OF_32ND[match["quarter"] or "0"]) / 32
            value = Decimal(match["points"]) + fraction
            return -value if match["sign"] else value
        try:
            value = Decimal(stripped)
        except InvalidOperation:
            raise InvalidPrice(f"price {text!r} is not a decimal number") from None
    else:
        raise InvalidPrice(f"price {text!r} is not a decimal string")
    if not value.is_finite():
        raise InvalidPrice(f"price {text!r} is not a finite number")
    return value
