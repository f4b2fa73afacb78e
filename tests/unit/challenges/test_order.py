"""Orders: one payment pays an order; repeats are no-ops; a second, different payment is flagged for refund."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from libs.domain.errors import InvalidTransition
from libs.domain.ids import ProgramId
from libs.domain.money import Money
from services.challenges.domain.order import Order, OrderPaid, OrderStatus, PaymentOutcome

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
PRICE = Money.of("249.00")


def new_order() -> Order:
    return Order(
        order_id=uuid4(),
        user_id="user-1",
        user_email="t@example.com",
        program_id=ProgramId("eval-50k"),
        program_version_id=uuid4(),
        program_version=1,
        price=PRICE,
        promotion_code=None,
        status=OrderStatus.PENDING,
        created_at=T0,
    )


def test_first_payment_pays_and_announces_once():
    order = new_order()
    assert order.record_payment("pi_1", PRICE, T0) is PaymentOutcome.FIRST
    assert order.record_payment("pi_1", PRICE, T0) is PaymentOutcome.ALREADY_APPLIED
    assert order.status is OrderStatus.PAID and order.payment_intent_id == "pi_1"
    assert [type(e) for e in order.pull_events()] == [OrderPaid]


def test_a_second_different_payment_is_a_duplicate_once_and_then_already_applied():
    order = new_order()
    order.record_payment("pi_1", PRICE, T0)
    assert order.record_payment("pi_2", PRICE, T0) is PaymentOutcome.DUPLICATE
    assert order.record_payment("pi_2", PRICE, T0) is PaymentOutcome.ALREADY_APPLIED
    assert order.payment_intent_id == "pi_1" and order.duplicate_payments == ("pi_2",)


EVENTS = [("pay", "pi_1"), ("fail", "pi_0"), ("pay", "pi_1"), ("fail", "pi_1")]


@pytest.mark.parametrize("sequence", list(itertools.permutations(EVENTS)))
def test_a_decline_and_a_success_in_any_order_end_paid(sequence):
    order = new_order()
    for kind, pi in sequence:
        if kind == "pay":
            order.record_payment(pi, PRICE, T0)
        else:
            order.record_failed_payment("card_declined")
    assert order.status is OrderStatus.PAID and order.payment_intent_id == "pi_1"
    assert len(order.pull_events()) == 1


def test_refund_of_the_paying_payment_refunds_the_order_but_a_duplicate_refund_does_not():
    order = new_order()
    order.record_payment("pi_1", PRICE, T0)
    order.record_payment("pi_2", PRICE, T0)
    assert order.record_refund("pi_2") is False and order.status is OrderStatus.PAID
    assert order.record_refund("pi_1") is True and order.status is OrderStatus.REFUNDED
    assert order.record_refund("pi_1") is False
    assert order.record_payment("pi_3", PRICE, T0) is PaymentOutcome.IGNORED


def test_a_refunded_order_cannot_be_paid_through_the_table():
    order = new_order()
    order.record_payment("pi_1", PRICE, T0)
    order.record_refund("pi_1")
    with pytest.raises(InvalidTransition) as refused:
        order._move(OrderStatus.PAID)
    assert refused.value.metadata["current_state"] == "refunded"
