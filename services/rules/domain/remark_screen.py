"""A vectorised screen that re-marks many accounts at once on a price tick, and finds the few that need the engine.

When one mark per symbol arrives, every account holding those symbols must be re-valued and checked against its
drawdown floor and daily loss limit. Doing that through Decimal for 100,000 positions takes far longer than a
tick lasts, so the screen holds the figures as **exact integers** (numpy int64 at a fixed scale of 10^-8 dollar)
and compares them in bulk. Integer arithmetic is exact, so a comparison that says "no breach" is the same
decision as the Decimal path, not an approximation of it: nothing is ever decided in binary floating point.

Any figure that does not fit the scale exactly, or could overflow int64, makes its account a candidate
unconditionally. Candidates (a breach, an intraday-trailing high-water mark that moves, or an account the screen
could not represent) are then confirmed one by one with exact Decimals (:func:`exact_decision`), which is the same
arithmetic as :class:`~services.rules.domain.account_risk.AccountRisk` uses on a mark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np

from libs.domain.instruments import instrument
from libs.domain.rule_set import DrawdownMode
from services.rules.domain.account_risk import AccountRisk

SCALE_EXPONENT = 8
_SCALE = Decimal(10) ** SCALE_EXPONENT
# Headroom below 2**63: an account sums at most 15 symbols of two terms each, so its total cannot wrap.
_SAFE_MAGNITUDE = 2**58
_NO_LIMIT = -(2**62)


class RemarkOutcome(StrEnum):
    NONE = "none"
    MAX_LOSS = "max_loss"
    DAILY_LOSS = "daily_loss"
    HIGH_WATER_MARK = "high_water_mark"  # no breach, but an intraday-trailing floor moves


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """What a re-mark needs of one account: its balance, floor, daily-loss figures and open positions."""

    balance: Decimal
    floor: Decimal
    high_water_mark: Decimal
    intraday_trailing: bool
    daily_loss_baseline: Decimal
    daily_loss_limit: Decimal | None  # None when the DLL is off or already recorded today
    positions: tuple[tuple[str, int, Decimal], ...]  # (symbol, net qty, cost = sum of lot price x signed qty)

    @classmethod
    def of(cls, account: AccountRisk) -> AccountFigures:
        return cls(
            balance=account.balance,
            floor=account.floor,
            high_water_mark=account.high_water_mark,
            intraday_trailing=account.rule_set.drawdown.mode is DrawdownMode.INTRADAY_TRAILING,
            daily_loss_baseline=account.daily_loss_baseline,
            daily_loss_limit=None if account.daily_loss_breached_today else account.daily_loss_limit,
            positions=tuple(
                (symbol, position.net_qty, position.cost) for symbol, position in sorted(account.positions.items())
            ),
        )


def exact_decision(figures: AccountFigures, marks: Mapping[str, Decimal]) -> RemarkOutcome:
    """The decision of the exact Decimal path: the engine's evaluation order (floor before DLL) on new marks."""
    unrealized = sum(
        ((marks[symbol] * qty - cost) * instrument(symbol).point_value for symbol, qty, cost in figures.positions),
        Decimal(0),
    )
    equity = figures.balance + unrealized
    if equity < figures.floor:
        return RemarkOutcome.MAX_LOSS
    limit = figures.daily_loss_limit
    if limit is not None and equity - figures.daily_loss_baseline <= -limit:
        return RemarkOutcome.DAILY_LOSS
    if figures.intraday_trailing and equity > figures.high_water_mark:
        return RemarkOutcome.HIGH_WATER_MARK
    return RemarkOutcome.NONE


def _scaled(value: Decimal) -> int | None:
    """``value`` x 10^8 as an int when that is exact and safely inside int64; None otherwise."""
    scaled = value * _SCALE
    if scaled != scaled.to_integral_value() or abs(scaled) >= _SAFE_MAGNITUDE:
        return None
    return int(scaled)


class RemarkScreen:
    """Columnar, exact-integer figures of many accounts' open positions, screened in bulk on each tick."""

    def __init__(self, accounts: Sequence[AccountFigures]) -> None:
        self.accounts = accounts
        symbols = sorted({symbol for figures in accounts for symbol, _, _ in figures.positions})
        self.symbols = symbols
        self._symbol_index = {symbol: index for index, symbol in enumerate(symbols)}
        self._point_values = [instrument(symbol).point_value for symbol in symbols]

        rows_account: list[int] = []
        rows_symbol: list[int] = []
        rows_qty: list[int] = []
        rows_cost: list[int] = []
        floor_room: list[int] = []
        daily_room: list[int] = []
        hwm_room: list[int] = []
        always: list[bool] = []
        for index, figures in enumerate(accounts):
            balance = figures.balance
            # Breach iff unrealized < floor - balance; DLL iff unrealized <= baseline - limit - balance.
            floor_gap = _scaled(figures.floor - balance)
            daily_gap = (
                _NO_LIMIT
                if figures.daily_loss_limit is None
                else _scaled(figures.daily_loss_baseline - figures.daily_loss_limit - balance)
            )
            hwm_gap = _scaled(figures.high_water_mark - balance) if figures.intraday_trailing else _SAFE_MAGNITUDE
            unrepresentable = floor_gap is None or daily_gap is None or hwm_gap is None
            floor_room.append(floor_gap or 0)
            daily_room.append(daily_gap or 0)
            hwm_room.append(hwm_gap or 0)
            for symbol, qty, cost in figures.positions:
                scaled_cost = _scaled(cost * instrument(symbol).point_value)
                unrepresentable = unrepresentable or scaled_cost is None
                rows_account.append(index)
                rows_symbol.append(self._symbol_index[symbol])
                rows_qty.append(qty)
                rows_cost.append(scaled_cost or 0)
            always.append(unrepresentable)

        self._row_account = np.asarray(rows_account, dtype=np.int64)
        self._row_symbol = np.asarray(rows_symbol, dtype=np.int64)
        self._row_qty = np.asarray(rows_qty, dtype=np.int64)
        self._row_cost = np.asarray(rows_cost, dtype=np.int64)
        self._floor_room = np.asarray(floor_room, dtype=np.int64)
        self._daily_room = np.asarray(daily_room, dtype=np.int64)
        self._hwm_room = np.asarray(hwm_room, dtype=np.int64)
        self._always = np.asarray(always, dtype=bool)
        self._max_qty_by_symbol = [0] * len(symbols)
        for symbol_index, qty in zip(rows_symbol, rows_qty, strict=True):
            self._max_qty_by_symbol[symbol_index] = max(self._max_qty_by_symbol[symbol_index], abs(qty))
        # Rows are in account order; reduceat sums each account's rows (accounts without rows get none).
        has_rows = np.zeros(len(accounts), dtype=bool)
        has_rows[self._row_account] = True
        self._accounts_with_rows = np.flatnonzero(has_rows)
        self._row_starts = np.searchsorted(self._row_account, self._accounts_with_rows)

    def candidates(self, marks: Mapping[str, Decimal]) -> np.ndarray:
        """Indices of the accounts whose decision on these marks is not "nothing to do", plus those the integers
        could not represent. Every account not returned certainly has no breach and no floor move."""
        value_per_contract = np.zeros(len(self.symbols), dtype=np.int64)
        unsafe_symbols = np.zeros(len(self.symbols), dtype=bool)
        for symbol, index in self._symbol_index.items():
            scaled = _scaled(marks[symbol] * self._point_values[index])
            if scaled is None or abs(scaled) * max(self._max_qty_by_symbol[index], 1) >= _SAFE_MAGNITUDE:
                unsafe_symbols[index] = True
            else:
                value_per_contract[index] = scaled
        row_unrealized = self._row_qty * value_per_contract[self._row_symbol] - self._row_cost
        unrealized = np.zeros(len(self.accounts), dtype=np.int64)
        if len(self._accounts_with_rows):
            unrealized[self._accounts_with_rows] = np.add.reduceat(row_unrealized, self._row_starts)
        flagged = (
            (unrealized < self._floor_room)
            | (unrealized <= self._daily_room)
            | (unrealized > self._hwm_room)
            | self._always
        )
        if unsafe_symbols.any():
            unsafe_rows = unsafe_symbols[self._row_symbol]
            flagged[self._row_account[unsafe_rows]] = True
        return np.flatnonzero(flagged)

    def decide(self, marks: Mapping[str, Decimal]) -> dict[int, RemarkOutcome]:
        """Screen in bulk, confirm the candidates exactly: account index -> decision, for every account that has
        one (accounts absent from the result have nothing to do on these marks)."""
        decisions = {}
        for index in self.candidates(marks).tolist():
            outcome = exact_decision(self.accounts[index], marks)
            if outcome is not RemarkOutcome.NONE:
                decisions[index] = outcome
        return decisions
