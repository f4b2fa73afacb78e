"""A position in one symbol: FIFO lots, exact realized P&L on every closing fill, exact unrealized P&L on a
mark.

The position keeps ``cost`` = sum of lot price x signed lot quantity, so unrealized P&L is (mark x net
quantity - cost) x point value: exact without ever dividing (the average entry of lots bought at 5000 and 5001
twice is 5000.666..., which no Decimal holds exactly). The average price is only for display.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from libs.domain.instruments import InstrumentSpec

_ZERO = Decimal(0)


class Position:
    __slots__ = ("cost", "lots", "net_qty", "point_value", "spec", "symbol")

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.point_value = spec.point_value
        # Each lot is [price, qty > 0]; every lot has the sign of net_qty.
        self.lots: deque[list] = deque()
        self.net_qty = 0
        self.cost = _ZERO

    @property
    def is_open(self) -> bool:
        return self.net_qty != 0

    def apply_fill(self, sign: int, qty: int, price: Decimal) -> tuple[Decimal, bool]:
        """Apply a fill of ``qty`` contracts (``sign`` +1 buy, -1 sell) at ``price``.

        Returns the realized price P&L (before fees) of the lots it closed, FIFO, and whether it opened a new
        lot
        (from flat, adding, or the remainder of a reversal)."""
        net = self.net_qty
        if net == 0 or (net > 0) == (sign > 0):
            self._open_lot(sign, qty, price)
            return _ZERO, True
        realized_points = _ZERO
        remaining = qty
        lots = self.lots
        position_sign = -sign
        while remaining and lots:
            lot = lots[0]
            lot_price, lot_qty = lot
            taken = lot_qty if lot_qty <= remaining else remaining
            realized_points += (price - lot_price) * (taken * position_sign)
            self.cost -= lot_price * (taken * position_sign)
            self.net_qty -= taken * position_sign
            remaining -= taken
            if taken == lot_qty:
                lots.popleft()
            else:
                lot[1] = lot_qty - taken
        if not lots:
            # Exactly flat: drop any representation residue of the cost (0E-2 and the like).
            self.cost = _ZERO
        opened = False
        if remaining:
            self._open_lot(sign, remaining, price)
            opened = True
        return realized_points * self.point_value, opened

    def _open_lot(self, sign: int, qty: int, price: Decimal) -> None:
        self.lots.append([price, qty])
        self.net_qty += sign * qty
        self.cost += price * (sign * qty)

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark * self.net_qty - self.cost) * self.point_value

    @property
    def average_price(self) -> Decimal:
        return self.cost / self.net_qty if self.net_qty else _ZERO

    def to_snapshot(self) -> dict:
        sign = 1 if self.net_qty > 0 else -1
        return {"symbol": self.symbol, "lots": [[str(price), qty * sign] for price, qty in self.lots]}

    @classmethod
    def from_snapshot(cls, spec: InstrumentSpec, raw: dict) -> Position:
        position = cls(spec)
        for price, signed_qty in raw["lots"]:
            position._open_lot(1 if signed_qty > 0 else -1, abs(int(signed_qty)), Decimal(price))
        return position
