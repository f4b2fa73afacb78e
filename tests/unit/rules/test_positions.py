"""Positions: FIFO lots, exact realized and unrealized P&L, reversals."""

from __future__ import annotations

from decimal import Decimal

from libs.domain.instruments import instrument
from services.rules.domain.positions import Position

D = Decimal


def test_a_partial_close_realizes_the_oldest_lot_first() -> None:
    position = Position(instrument("ES"))
    position.apply_fill(1, 1, D("5000.00"))
    position.apply_fill(1, 2, D("5001.00"))
    realized, opened = position.apply_fill(-1, 1, D("5002.00"))
    assert realized == D("100.00")  # (5002 - 5000) x 1 x 50: the 5000 lot, not the average
    assert not opened
    assert position.net_qty == 2
    assert position.average_price == D("5001.00")
    assert position.unrealized(D("5002.00")) == D("100.00")


def test_a_close_across_lots_sums_each_lot_exactly() -> None:
    position = Position(instrument("ZN"))
    position.apply_fill(-1, 2, D("110.5"))
    position.apply_fill(-1, 1, D("110.515625"))
    realized, _ = position.apply_fill(1, 3, D("110.484375"))
    assert realized == D("15.625") * 2 + D("31.25")  # one 1/64 tick on two lots, two ticks on the third
    assert position.net_qty == 0
    assert position.cost == 0


def test_a_reversal_closes_everything_then_opens_the_remainder_at_the_fill_price() -> None:
    position = Position(instrument("NQ"))
    position.apply_fill(1, 2, D("18000"))
    realized, opened = position.apply_fill(-1, 5, D("18010"))
    assert realized == D(400)
    assert opened
    assert position.net_qty == -3
    assert position.average_price == D(18010)
    assert position.unrealized(D("18000")) == D(600)


def test_unrealized_pnl_needs_no_division_even_when_the_average_is_repeating() -> None:
    position = Position(instrument("ES"))
    position.apply_fill(1, 1, D("5000.00"))
    position.apply_fill(1, 2, D("5001.00"))
    # The average entry 5000.666... has no exact decimal; the P&L does.
    assert position.unrealized(D("5001.00")) == D("50.00")


def test_adding_to_a_position_counts_as_opening_a_lot() -> None:
    position = Position(instrument("MES"))
    assert position.apply_fill(1, 1, D("5000"))[1]
    assert position.apply_fill(1, 1, D("5001"))[1]
    assert not position.apply_fill(-1, 1, D("5002"))[1]


def test_a_snapshot_restores_the_lots_exactly() -> None:
    position = Position(instrument("6E"))
    position.apply_fill(-1, 2, D("1.08505"))
    position.apply_fill(-1, 1, D("1.08510"))
    restored = Position.from_snapshot(instrument("6E"), position.to_snapshot())
    assert restored.net_qty == -3
    assert restored.cost == position.cost
    assert restored.apply_fill(1, 3, D("1.08500")) == position.apply_fill(1, 3, D("1.08500"))
