"""A property of the KYC case (pure domain, no I/O): whatever order Stripe delivers a session's events in, and
however many times, the case ends where in-order delivery leaves it. The histories are ones Stripe can produce:
created, then rounds of processing -> requires_input (the user fixes and resubmits, a later second), ending in
processing -> verified or a last requires_input; `created` has one-second resolution, so a round's processing and
its outcome often share a second."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.identity.domain.kyc import KycCase, StripeSessionSignal
from services.identity.domain.user import KycStatus

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SESSION = "vs_property"
S = StripeSessionSignal


@st.composite
def histories(draw) -> list[tuple[S, datetime]]:
    second = 0
    events = [(S.CREATED, START)]
    for _ in range(draw(st.integers(0, 3))):
        second += draw(st.integers(1, 90))
        events.append((S.PROCESSING, START + timedelta(seconds=second)))
        second += draw(st.integers(0, 2))  # the outcome may land in the same second
        events.append((S.REQUIRES_INPUT, START + timedelta(seconds=second)))
    if draw(st.booleans()):
        second += draw(st.integers(1, 90))
        events.append((S.PROCESSING, START + timedelta(seconds=second)))
        second += draw(st.integers(0, 2))
        events.append((S.VERIFIED, START + timedelta(seconds=second)))
    return events


def opened_case() -> KycCase:
    case = KycCase.new(uuid.uuid4(), START)
    case.open_session(SESSION, 1, START)
    return case


def final_status(deliveries) -> KycStatus:
    case = opened_case()
    for signal, created in deliveries:
        case.apply_stripe_event(SESSION, signal, created, "document_expired", START)
    return case.status


@given(data=st.data(), history=histories())
def test_any_delivery_order_with_duplicates_ends_where_in_order_delivery_does(data, history):
    copies = data.draw(st.lists(st.sampled_from(history), max_size=6))
    deliveries = data.draw(st.permutations(history + copies))

    assert final_status(deliveries) is final_status(history)


def test_the_reversed_requires_input_round_a_naive_consumer_gets_wrong():
    history = [
        (S.CREATED, START),
        (S.PROCESSING, START + timedelta(seconds=5)),
        (S.REQUIRES_INPUT, START + timedelta(seconds=5)),
    ]

    assert final_status(history) is KycStatus.NEEDS_REVIEW
    assert final_status(list(reversed(history))) is KycStatus.NEEDS_REVIEW
