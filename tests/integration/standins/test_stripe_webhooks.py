"""Webhook delivery as Stripe does it (signed per attempt, retried on failure) and the misbehaviour knobs that let
consumers prove they are idempotent and order-independent: duplicates, shuffled or reversed order, delays."""

from __future__ import annotations

import itertools
import time

import pytest
import stripe

from tests.integration.standins.conftest import WEBHOOK_SECRET, Receiver, Standin


@pytest.fixture(autouse=True)
def only_cancellations(standin: Standin) -> None:
    """These tests count deliveries of one kind of event; the endpoint subscribes to just that one."""
    standin.configure(enabled_events=["identity.verification_session.canceled"])


def _cancel_sessions(client: stripe.StripeClient, count: int) -> list[str]:
    """`count` events in a known order: one identity.verification_session.canceled per session."""
    ids = []
    for _ in range(count):
        session = client.v1.identity.verification_sessions.create(params={"type": "document"})
        client.v1.identity.verification_sessions.cancel(session.id)
        ids.append(session.id)
    return ids


def test_a_delivery_is_signed_so_that_only_the_exact_body_and_secret_verify(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    _cancel_sessions(client, 1)
    delivery = receiver.wait_for(lambda ds: len(ds) == 1)[0]
    header = delivery.headers["stripe-signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(time.time() - timestamp) < 60

    event = stripe.Webhook.construct_event(delivery.body, header, WEBHOOK_SECRET, tolerance=300)

    assert event.id.startswith("evt_") and event.type == "identity.verification_session.canceled"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body.replace(b"canceled", b"verified"), header, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, header, "whsec_other")


def test_a_failing_endpoint_is_retried_with_backoff_until_it_answers_2xx(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    standin.configure(retry_base_seconds=0.2, retry_max_seconds=5)
    receiver.fail_next = 2
    _cancel_sessions(client, 1)

    receiver.wait_for(lambda ds: len(ds) == 1)

    attempts: list[dict] = []
    deadline = time.monotonic() + 5
    while len(attempts) < 3 and time.monotonic() < deadline:  # the stand-in logs an attempt once it has the answer
        attempts = standin.control.get("/_standin/deliveries").json()["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # exponential backoff: base, then twice the base


def test_duplicates_knob_delivers_every_event_several_times_each_validly_signed(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    standin.configure(duplicates=2)
    _cancel_sessions(client, 2)

    receiver.wait_for(lambda ds: len(ds) == 6)

    events = receiver.verified_events()
    ids = [e.id for e in events]
    assert len(set(ids)) == 2 and all(ids.count(i) == 3 for i in set(ids))
    time.sleep(0.2)
    assert len(receiver.deliveries) == 6  # and no more than that


def test_reverse_knob_delivers_a_window_of_events_newest_first(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    standin.configure(order="reverse", window_size=3, window_wait_seconds=2.0)
    sessions = _cancel_sessions(client, 3)

    receiver.wait_for(lambda ds: len(ds) == 3)

    assert [e.data.object.id for e in receiver.verified_events()] == list(reversed(sessions))


def test_shuffle_knob_delivers_the_same_events_in_another_order(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    standin.configure(order="shuffle", window_size=4, window_wait_seconds=2.0)
    sessions = _cancel_sessions(client, 4)

    receiver.wait_for(lambda ds: len(ds) == 4)

    arrived = [e.data.object.id for e in receiver.verified_events()]
    assert sorted(arrived) == sorted(sessions)
    assert arrived != sessions  # a shuffle that kept the order would prove nothing, so the stand-in never sends one


def test_delay_knob_holds_each_delivery_back(client: stripe.StripeClient, standin: Standin, receiver: Receiver) -> None:
    standin.configure(delay_seconds=0.4)
    started = time.monotonic()
    _cancel_sessions(client, 1)

    receiver.wait_for(lambda ds: len(ds) == 1)

    assert time.monotonic() - started >= 0.4


def test_an_unknown_knob_or_order_is_refused(standin: Standin) -> None:
    assert standin.control.post("/_standin/config", json={"dupes": 1}).status_code == 400
    assert standin.control.post("/_standin/config", json={"order": "random"}).status_code == 400
    shown = standin.control.get("/_standin/config").json()
    assert shown["order"] == "in_order" and WEBHOOK_SECRET not in str(shown)


def test_enabled_events_filters_deliveries_but_every_event_is_still_listed(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    standin.configure(enabled_events=["identity.verification_session.created"])
    _cancel_sessions(client, 2)

    receiver.wait_for(lambda ds: len(ds) == 2)

    assert receiver.types() == ["identity.verification_session.created"] * 2
    listed = {e.type for e in client.v1.events.list().data}
    assert listed == {"identity.verification_session.created", "identity.verification_session.canceled"}


def test_paused_knob_holds_deliveries_until_unpaused(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    standin.configure(paused=True)
    _cancel_sessions(client, 1)
    time.sleep(0.3)
    assert receiver.deliveries == []

    standin.configure(paused=False)

    assert len(receiver.wait_for(lambda ds: len(ds) == 1)) == 1
