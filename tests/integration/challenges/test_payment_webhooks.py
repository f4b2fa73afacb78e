"""Stripe's webhooks as Stripe sends them (the stand-in's knobs): duplicated, reordered, replayed, paid twice.
Whatever arrives, each order ends with exactly one account and every extra payment is refunded."""

from __future__ import annotations

import uuid

import pytest
import stripe
from sqlalchemy import text

from services.challenges.application.record_payment_event import duplicate_refund_key


def session_id(order: dict) -> str:
    return order["checkout_url"].rsplit("/", 1)[-1]


async def buy(purchase, trader) -> dict:
    reply = await purchase.order(trader)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def stored_events(database_url: str, order_id: str) -> list[tuple[str, str]]:
    from libs.platform.db import create_engine

    engine = create_engine(database_url, "challenges", pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT event_type, outcome FROM challenges.stripe_events "
                    "WHERE payload::text LIKE :needle ORDER BY received_at"
                ),
                {"needle": f"%{order_id}%"},
            )
            return [(r.event_type, r.outcome) for r in rows]
    finally:
        await engine.dispose()


async def test_every_webhook_delivered_three_times_gives_one_account(purchase, database_url):
    await purchase.configure(duplicates=2)
    _, trader = purchase.trader()
    order = await buy(purchase, trader)
    await purchase.pay(session_id(order))
    (account,) = await purchase.wait_for_account(trader)
    deliveries = await purchase.deliveries_idle()
    answered = [d for d in deliveries if d["status"] == 200]
    per_event = {d["event_id"]: sum(1 for x in answered if x["event_id"] == d["event_id"]) for d in answered}
    assert len(per_event) >= 4 and set(per_event.values()) == {3}  # every event arrived three times
    assert len(await purchase.platform.accounts_of(account["id"])) == 1
    outcomes = await stored_events(database_url, order["id"])
    assert sum(1 for _, outcome in outcomes if outcome == "account_created") == 1
    assert account["attempts"][0]["number"] == 1


@pytest.mark.parametrize("order_knob", ["reverse", "shuffle"])
async def test_webhooks_out_of_order_give_the_same_single_active_account(purchase, order_knob):
    await purchase.configure(order=order_knob, window_size=6, window_wait_seconds=0.3)
    _, trader = purchase.trader()
    order = await buy(purchase, trader)
    await purchase.pay(session_id(order))
    await purchase.deliveries_idle()
    (account,) = await purchase.wait_for_account(trader)
    assert account["status"] == "phase_1"
    paid = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
    assert paid["status"] == "paid" and paid["account_id"] == account["id"]


async def test_a_declined_card_then_a_good_one_gives_one_account(purchase):
    _, trader = purchase.trader()
    order = await buy(purchase, trader)
    await purchase.pay(session_id(order), outcome="declined")
    await purchase.deliveries_idle()
    failed = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
    assert failed["status"] == "failed" and failed["account_id"] is None
    assert (await purchase.gateway.get("/v1/accounts", headers=trader)).json()["accounts"] == []
    await purchase.pay(session_id(order))
    (account,) = await purchase.wait_for_account(trader)
    assert account["status"] == "phase_1"


async def test_paying_twice_for_one_order_keeps_one_account_and_refunds_the_second_payment(purchase):
    _, trader = purchase.trader()
    order = await buy(purchase, trader)
    await purchase.pay(session_id(order))
    await purchase.wait_for_account(trader)
    # A second checkout for the same order (a second tab, an old link): Stripe takes the money again.
    second = purchase.stripe.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "https://app.test/done",
            "client_reference_id": order["id"],
            "metadata": {"order_id": order["id"]},
            "payment_intent_data": {"metadata": {"order_id": order["id"]}},
            "line_items": [
                {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 24900, "product_data": {"name": "x"}}}
            ],
        }
    )
    await purchase.pay(second.id)
    await purchase.deliveries_idle()
    second_payment = purchase.stripe.v1.checkout.sessions.retrieve(second.id).payment_intent
    refunds = purchase.stripe.v1.refunds.list(params={"payment_intent": second_payment}).data
    assert len(refunds) == 1 and refunds[0].amount == 24900
    first_payment = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).payment_intent
    assert purchase.stripe.v1.refunds.list(params={"payment_intent": first_payment}).data == []
    (account,) = await purchase.wait_for_account(trader)
    assert len(await purchase.platform.accounts_of(account["id"])) == 1
    paid = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
    assert paid["status"] == "paid" and paid["account_id"] == account["id"]
    # The refund was made under our key: asking again with it replays Stripe's answer instead of refunding twice.
    again = purchase.stripe.v1.refunds.create(
        params={"payment_intent": second_payment, "reason": "duplicate", "metadata": {"reason": "duplicate"}},
        options={"idempotency_key": duplicate_refund_key(uuid.UUID(order["id"]), second_payment)},
    )
    assert again.id == refunds[0].id


async def test_a_replayed_event_changes_nothing(purchase):
    _, trader = purchase.trader()
    order = await buy(purchase, trader)
    await purchase.pay(session_id(order))
    await purchase.deliveries_idle()
    (before,) = await purchase.wait_for_account(trader)
    completed = purchase.stripe.v1.events.list(params={"type": "checkout.session.completed", "limit": 20}).data
    event = next(
        e.to_dict() for e in completed if e.to_dict()["data"]["object"].get("client_reference_id") == order["id"]
    )
    from tests.integration.challenges.signing import signed

    body, signature = signed(event)
    reply = await purchase.gateway.post(
        "/v1/webhooks/stripe", content=body, headers={"stripe-signature": signature, "content-type": "application/json"}
    )
    assert reply.status_code == 200
    (after,) = (await purchase.gateway.get("/v1/accounts", headers=trader)).json()["accounts"]
    assert after == before and len(await purchase.platform.accounts_of(after["id"])) == 1


async def test_a_forged_event_straight_to_the_service_is_refused_and_stored_nowhere(purchase, database_url):
    import grpc

    from dynasty.challenges.v1 import challenges_service_pb2 as pb
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
    from libs.platform.grpc_client import insecure_channel

    event_id = f"evt_forged_{uuid.uuid4().hex}"
    body = b'{"id": "%s", "type": "payment_intent.succeeded", "data": {"object": {}}}' % event_id.encode()
    async with insecure_channel(purchase.channel_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.ChallengesServiceStub(channel).RecordStripeEvent(
                pb.RecordStripeEventRequest(payload=body, signature="t=1,v1=deadbeef"), timeout=5
            )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert await stored_events(database_url, event_id) == []


def test_the_sdk_refuses_a_tampered_signature_as_the_service_does():
    from tests.integration.challenges.signing import sign

    body = b'{"id": "evt_1", "type": "x"}'
    header = sign(body)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body + b" ", header, "whsec_purchase_tests")
