"""Signed webhooks, at least once, and each misbehaviour knob: duplicates, out of order, gaps, delays."""

from __future__ import annotations

import time
from datetime import datetime

from tests.integration.ypf_simulator.conftest import WEBHOOK_SECRET, Receiver, Simulator, verify_signature


def test_a_fill_sends_trade_position_and_account_events_signed_with_the_secret(
    sim: Simulator, receiver: Receiver
) -> None:
    account = sim.new_account()
    trade = sim.fill(account["id"], "ES", "buy", 1, "5800.00")["trade"]

    events = receiver.wait_for(lambda events: len(events) >= 3)
    deliveries = receiver.snapshot()

    assert [e["type"] for e in events] == ["trade", "position", "account"]
    for delivery in deliveries:
        assert verify_signature(delivery.body, delivery.headers["x-ypf-signature"])
        assert not verify_signature(delivery.body + b" ", delivery.headers["x-ypf-signature"])
        assert not verify_signature(delivery.body, delivery.headers["x-ypf-signature"], secret=WEBHOOK_SECRET + "x")
        assert delivery.headers["x-ypf-event-id"] == delivery.event["id"]
    trade_event, position_event, account_event = events
    assert set(trade_event) == {"id", "type", "accountId", "sequence", "cursor", "occurredAt", "data"}
    assert trade_event["data"] == trade and trade_event["sequence"] == 1
    assert trade_event["accountId"] == account["id"]
    assert datetime.fromisoformat(trade_event["occurredAt"]).utcoffset().total_seconds() == 0
    assert position_event["data"]["size"] == 1 and position_event["sequence"] == 1
    assert account_event["data"]["balance"] == "49997.50" and account_event["data"]["canTrade"] is True
    assert len({e["id"] for e in events}) == 3


def test_a_failed_delivery_is_retried_until_it_is_accepted(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    receiver.fail_next = 2
    sim.fill(account["id"], "ES", "buy", 1)

    events = receiver.wait_for(lambda events: len(events) >= 3)
    sim.wait_idle()

    assert sorted(e["type"] for e in events) == ["account", "position", "trade"]
    attempts = sim.control.get("/_sim/deliveries").json()["attempts"]
    assert [a["outcome"] for a in attempts].count("failed") == 2
    assert max(a["attempt"] for a in attempts) >= 2


def test_duplicates_deliver_each_event_twice_with_the_same_id(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    sim.configure(duplicate_rate=1.0)
    sim.fill(account["id"], "ES", "buy", 1)

    events = receiver.wait_for(lambda events: len(events) >= 6)

    ids = [e["id"] for e in events]
    assert len(ids) == 6 and len(set(ids)) == 3
    assert all(ids.count(i) == 2 for i in ids)


def test_out_of_order_delivery_within_a_window(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    sim.configure(reorder_window=6, event_types=["trade"])
    fills = [{"accountId": account["id"], "symbol": "MES", "side": "buy", "size": 1}] * 6
    assert sim.control.post("/_sim/fills", json={"fills": fills}).status_code == 201  # queued together

    events = receiver.wait_for(lambda events: len(events) >= 6)

    sequences = [e["sequence"] for e in events]
    assert sorted(sequences) == [1, 2, 3, 4, 5, 6]
    assert sequences != [1, 2, 3, 4, 5, 6]


def test_a_dropped_webhook_leaves_a_gap_the_reconciliation_read_fills(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    sim.configure(event_types=["trade"])
    sim.fill(account["id"], "ES", "buy", 1)
    sim.configure(drop_rate=1.0)
    dropped = sim.fill(account["id"], "ES", "buy", 1)["trade"]
    sim.configure(drop_rate=0.0)
    sim.fill(account["id"], "ES", "sell", 2)

    events = receiver.wait_for(lambda events: len(events) >= 2)
    sim.wait_idle()

    assert [e["sequence"] for e in receiver.events()] == [1, 3]  # the gap our poller must notice
    missing = sim.api.get(
        f"/client/v1/accounts/{account['id']}/trades", params={"after_sequence": 1, "limit": 1}
    ).json()["trades"]
    assert missing == [dropped]
    outcomes = {a["event_id"]: a["outcome"] for a in sim.control.get("/_sim/deliveries").json()["attempts"]}
    assert list(outcomes.values()).count("dropped") == 1
    assert events[0]["id"] in outcomes


def test_delayed_webhooks_arrive_no_sooner_than_the_delay(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    sim.configure(delay_seconds=0.4, event_types=["trade"])
    started = time.monotonic()
    sim.fill(account["id"], "ES", "buy", 1)

    receiver.wait_for(lambda events: len(events) == 1)

    assert receiver.snapshot()[0].at - started >= 0.4


def test_paused_deliveries_wait_and_then_all_arrive(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    sim.configure(paused=True)
    sim.fill(account["id"], "ES", "buy", 1)
    time.sleep(0.2)
    assert receiver.events() == []

    sim.configure(paused=False)

    assert len(receiver.wait_for(lambda events: len(events) == 3)) == 3


def test_unknown_or_invalid_knobs_are_refused_and_change_nothing(sim: Simulator) -> None:
    before = sim.control.get("/_sim/config").json()

    for knobs in ({"duplicate_rate": 2}, {"nonsense": 1}, {"error_status": 404}, {"drop_rate": 0.5, "paused": "x"}):
        assert sim.control.post("/_sim/config", json=knobs).status_code == 400

    assert sim.control.get("/_sim/config").json() == before


def test_raw_webhooks_carry_good_and_bad_signatures_for_the_gateways_refusal_tests(
    sim: Simulator, receiver: Receiver
) -> None:
    for signature in ("valid", "stale", "invalid", "none"):
        reply = sim.control.post("/_sim/webhooks", json={"body": "{not json", "signature": signature})
        assert reply.json() == {"status": 200}
    assert sim.control.post("/_sim/webhooks", json={"body": {}, "signature": "forged"}).status_code == 400

    deliveries = receiver.snapshot()

    assert [d.body for d in deliveries] == [b"{not json"] * 4
    valid, stale, invalid, unsigned = deliveries
    assert verify_signature(valid.body, valid.headers["x-ypf-signature"])
    assert not verify_signature(stale.body, stale.headers["x-ypf-signature"])  # outside the tolerance
    assert verify_signature(stale.body, stale.headers["x-ypf-signature"], tolerance=4000)  # but a true HMAC
    assert not verify_signature(invalid.body, invalid.headers["x-ypf-signature"])
    assert "x-ypf-signature" not in unsigned.headers
