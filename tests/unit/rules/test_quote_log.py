"""The group commit's memory of the quotes it applied (ADR 0071): it answers only where it knows every quote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.rules.application.quote_log import QuoteLog
from services.rules.application.risk_runner import StoredEvent
from services.rules.domain.trade_events import Mark

T = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)


def quote(second: int, row: int, symbol: str = "ES") -> StoredEvent:
    at = T + timedelta(seconds=second)
    return StoredEvent(row, f"q{row}", None, (Mark(at=at, symbol=symbol, price=Decimal("5000.00")),))


def at(second: int, row: int) -> tuple[datetime, int]:
    return (T + timedelta(seconds=second), row)


def test_it_knows_nothing_of_a_symbol_it_was_not_validated_for():
    log = QuoteLog()
    log.add("ES", quote(1, 1))
    assert log.after("ES", at(0, 0)) is None


def test_after_validation_it_answers_from_the_cursor_on_in_exchange_order():
    log = QuoteLog()
    log.validate({"ES": at(5, 10)}, {"ES": 3})
    log.add("ES", quote(9, 12))
    log.add("ES", quote(7, 13))  # a late quote: kept in its place
    assert [q.row_id for q in log.after("ES", at(6, 0))] == [13, 12]
    assert [q.row_id for q in log.after("ES", at(8, 0))] == [12]
    assert [q.row_id for q in log.after("ES", at(5, 10))] == [13, 12]  # complete from the cursor itself on
    assert log.after("ES", at(4, 0)) is None  # quotes before the cursor were applied before it knew the symbol


def test_another_writers_count_restarts_the_symbol_and_ours_keeps_it():
    log = QuoteLog()
    log.validate({"ES": at(5, 10), "NQ": at(5, 11)}, {"ES": 3, "NQ": 8})
    log.add("ES", quote(9, 12))
    log.add("NQ", quote(9, 13, "NQ"))
    log.wrote({"ES": 4, "NQ": 9})
    log.validate({"ES": at(9, 12), "NQ": at(9, 13)}, {"ES": 4, "NQ": 10})  # NQ: someone else wrote a quote
    assert [q.row_id for q in log.after("ES", at(6, 0))] == [12]
    assert log.after("NQ", at(6, 0)) is None
    assert log.after("NQ", at(9, 13)) == []


def test_a_failed_batch_forgets_everything():
    log = QuoteLog()
    log.validate({}, {"ES": 0})
    log.add("ES", quote(1, 1))
    log.forget()
    assert log.after("ES", at(0, 0)) is None
    log.validate({"ES": at(1, 1)}, {"ES": 0})  # the same count as before, but nothing is trusted from before
    assert log.after("ES", at(0, 0)) is None


def test_it_keeps_at_most_depth_quotes_and_then_answers_only_after_the_dropped_ones():
    log = QuoteLog(depth=3)
    log.validate({}, {"ES": 0})
    for n in range(1, 6):
        log.add("ES", quote(n, n))
    assert log.after("ES", at(1, 1)) is None
    assert [q.row_id for q in log.after("ES", at(2, 2))] == [3, 4, 5]
