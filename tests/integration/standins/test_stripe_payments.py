"""Issue 5's purchase paths through the official SDK and the stand-in's buyer controls: checkout in payment and
subscription mode, promotion codes, declines, renewals, cancellation, refunds and chargebacks, with the webhooks
Stripe sends for each, verified with stripe.Webhook.construct_event."""

from __future__ import annotations

import time

import pytest
import stripe

from tests.integration.standins.conftest import Receiver, Standin


@pytest.fixture
def evaluation(client: stripe.StripeClient) -> stripe.Price:
    product = client.v1.products.create(params={"name": "$50K Evaluation", "metadata": {"program": "50k"}})
    return client.v1.prices.create(params={"currency": "usd", "unit_amount": 16500, "product": product.id})


@pytest.fixture
def monthly(client: stripe.StripeClient) -> stripe.Price:
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 9900,
            "recurring": {"interval": "month"},
            "product_data": {"name": "$50K Monthly Evaluation"},
        }
    )


def _checkout(client: stripe.StripeClient, price: stripe.Price, mode: str, **extra: object) -> stripe.checkout.Session:
    params = {
        "mode": mode,
        "line_items": [{"price": price.id, "quantity": 1}],
        "success_url": "http://app.test/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/cancel",
        "client_reference_id": "order-7",
        "customer_email": "trader@dynasty.test",
        "metadata": {"order_id": "order-7"},
        **extra,
    }
    # Our adapter derives the key from the order id; an order placed again with other terms is a new order.
    return client.v1.checkout.sessions.create(
        params=params, options={"idempotency_key": f"{params['client_reference_id']}-{mode}-{sorted(extra)}"}
    )


def _events_by_type(receiver: Receiver) -> dict[str, stripe.Event]:
    return {event.type: event for event in receiver.verified_events()}


def test_paying_a_one_time_checkout_completes_it_and_sends_the_payment_webhooks(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, evaluation: stripe.Price
) -> None:
    session = _checkout(client, evaluation, "payment", payment_intent_data={"metadata": {"order_id": "order-7"}})
    assert session.id.startswith("cs_test_") and session.status == "open" and session.payment_status == "unpaid"
    assert session.amount_total == 16500 and session.url.startswith(standin.url)

    standin.post(f"/_standin/checkout/sessions/{session.id}/pay")

    receiver.wait_for(lambda ds: "checkout.session.completed" in [d.event["type"] for d in ds])
    events = _events_by_type(receiver)
    completed = events["checkout.session.completed"].data.object
    assert completed.id == session.id and completed.payment_status == "paid"
    assert completed.client_reference_id == "order-7" and completed.metadata["order_id"] == "order-7"
    intent = events["payment_intent.succeeded"].data.object
    assert intent.id == completed.payment_intent and intent.amount == 16500
    assert intent.metadata["order_id"] == "order-7"
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent", "line_items"]})
    assert paid.payment_intent.status == "succeeded"
    assert paid.line_items.data[0].price.id == evaluation.id and paid.line_items.data[0].amount_total == 16500
    assert client.v1.checkout.sessions.list(params={"payment_intent": intent.id}).data[0].id == session.id


def test_a_declined_card_sends_payment_failed_and_leaves_the_session_open_for_another_try(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, evaluation: stripe.Price
) -> None:
    session = _checkout(client, evaluation, "payment")

    standin.post(f"/_standin/checkout/sessions/{session.id}/pay", outcome="declined")
    receiver.wait_for(lambda ds: "payment_intent.payment_failed" in [d.event["type"] for d in ds])
    failed = _events_by_type(receiver)["payment_intent.payment_failed"].data.object
    assert failed.last_payment_error.code == "card_declined"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"

    standin.post(f"/_standin/checkout/sessions/{session.id}/pay")
    receiver.wait_for(lambda ds: "checkout.session.completed" in [d.event["type"] for d in ds])
    assert client.v1.payment_intents.retrieve(failed.id).status == "succeeded"  # the same intent, retried


def test_a_promotion_code_discounts_the_session_and_counts_its_redemption(
    client: stripe.StripeClient, standin: Standin, evaluation: stripe.Price
) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": "20", "duration": "once"})
    promo = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "LAUNCH20", "max_redemptions": 1}
    )
    found = client.v1.promotion_codes.list(params={"code": "launch20"}).data
    assert [p.id for p in found] == [promo.id]

    session = _checkout(client, evaluation, "payment", discounts=[{"promotion_code": promo.id}])
    assert session.amount_subtotal == 16500 and session.amount_total == 13200
    assert session.total_details.amount_discount == 3300
    standin.post(f"/_standin/checkout/sessions/{session.id}/pay")

    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    with pytest.raises(stripe.InvalidRequestError) as used_up:
        _checkout(client, evaluation, "payment", discounts=[{"promotion_code": promo.id}], client_reference_id="o-8")
    assert used_up.value.code == "promotion_code_max_redemptions"


def test_discounts_and_allow_promotion_codes_are_exclusive_and_the_buyer_may_enter_a_code(
    client: stripe.StripeClient, standin: Standin, evaluation: stripe.Price
) -> None:
    coupon = client.v1.coupons.create(params={"amount_off": 5000, "currency": "usd", "duration": "once"})
    promo = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}})
    with pytest.raises(stripe.InvalidRequestError) as both:
        _checkout(client, evaluation, "payment", discounts=[{"coupon": coupon.id}], allow_promotion_codes=True)
    assert both.value.param == "allow_promotion_codes"

    session = _checkout(client, evaluation, "payment", allow_promotion_codes=True)
    paid = standin.post(f"/_standin/checkout/sessions/{session.id}/pay", promotion_code=promo.code)

    assert paid["amount_total"] == 11500 and paid["discounts"][0]["promotion_code"] == promo.id
    intent = client.v1.payment_intents.retrieve(paid["payment_intent"])
    assert intent.amount == 11500


def test_a_recurring_price_is_refused_in_payment_mode(client: stripe.StripeClient, monthly: stripe.Price) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _checkout(client, monthly, "payment")
    assert "recurring price" in refused.value.user_message


def test_a_subscription_checkout_creates_the_subscription_and_its_paid_first_invoice(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, monthly: stripe.Price
) -> None:
    session = _checkout(client, monthly, "subscription", subscription_data={"metadata": {"order_id": "order-7"}})

    standin.post(f"/_standin/checkout/sessions/{session.id}/pay")

    receiver.wait_for(lambda ds: "checkout.session.completed" in [d.event["type"] for d in ds])
    events = _events_by_type(receiver)
    completed = events["checkout.session.completed"].data.object
    assert completed.mode == "subscription" and completed.subscription.startswith("sub_")
    invoice = events["invoice.paid"].data.object
    assert invoice.parent.subscription_details.subscription == completed.subscription
    assert invoice.billing_reason == "subscription_create" and invoice.amount_paid == 9900
    assert events["customer.subscription.created"].data.object.status == "active"
    subscription = client.v1.subscriptions.retrieve(completed.subscription, params={"expand": ["latest_invoice"]})
    assert subscription.metadata["order_id"] == "order-7"
    assert subscription.latest_invoice.id == invoice.id
    item = subscription["items"].data[0]
    assert item.price.id == monthly.id and item.current_period_end > item.current_period_start


def test_a_failed_renewal_goes_past_due_then_a_paid_retry_restores_it_and_cancel_sends_deleted(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, monthly: stripe.Price
) -> None:
    session = _checkout(client, monthly, "subscription")
    subscription_id = standin.post(f"/_standin/checkout/sessions/{session.id}/pay")["subscription"]

    failed = standin.post(f"/_standin/subscriptions/{subscription_id}/renew", outcome="declined")
    assert failed["status"] == "open" and failed["billing_reason"] == "subscription_cycle"
    assert client.v1.subscriptions.retrieve(subscription_id).status == "past_due"
    standin.post(f"/_standin/invoices/{failed['id']}/pay")
    assert client.v1.subscriptions.retrieve(subscription_id).status == "active"

    canceled = client.v1.subscriptions.cancel(subscription_id)

    assert canceled.status == "canceled" and canceled.ended_at is not None
    receiver.wait_for(lambda ds: "customer.subscription.deleted" in [d.event["type"] for d in ds])
    types = receiver.types()
    assert types.index("invoice.payment_failed") < types.index("invoice.paid", types.index("invoice.payment_failed"))
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(subscription_id)


def test_a_subscription_cancelled_at_period_end_ends_at_the_period_instead_of_renewing_and_its_charge_refunds(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, monthly: stripe.Price
) -> None:
    session = _checkout(client, monthly, "subscription")
    subscription_id = standin.post(f"/_standin/checkout/sessions/{session.id}/pay")["subscription"]

    updated = client.v1.subscriptions.update(
        subscription_id, params={"cancel_at_period_end": True}, options={"idempotency_key": "stop-1"}
    )

    assert updated.status == "active" and updated.cancel_at == updated["items"].data[0].current_period_end
    receiver.wait_for(lambda ds: "customer.subscription.updated" in [d.event["type"] for d in ds])
    event = _events_by_type(receiver)["customer.subscription.updated"]
    assert event.data.previous_attributes["cancel_at_period_end"] is False
    ended = standin.post(f"/_standin/subscriptions/{subscription_id}/renew")
    assert ended["status"] == "canceled" and ended["cancellation_details"]["reason"] == "cancellation_requested"
    assert len(client.v1.invoices.list(params={"subscription": subscription_id}).data) == 1  # no second month
    # The paid invoice's charge refunds like any charge (charge.refunded names its payment intent).
    invoice = client.v1.invoices.list(params={"subscription": subscription_id}).data[0]
    intent = invoice["payments"].data[0].payment.payment_intent
    refund = client.v1.refunds.create(params={"payment_intent": intent})
    assert refund.amount == invoice.amount_paid and client.v1.charges.retrieve(refund.charge).refunded is True


def test_refunds_partial_then_the_rest_send_charge_refunded_and_over_refunding_is_refused(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, evaluation: stripe.Price
) -> None:
    session = _checkout(client, evaluation, "payment")
    intent_id = standin.post(f"/_standin/checkout/sessions/{session.id}/pay")["payment_intent"]

    partial = client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 6500, "reason": "requested_by_customer"},
        options={"idempotency_key": "refund-order-7"},
    )
    assert partial.id.startswith("re_") and partial.status == "succeeded" and partial.amount == 6500
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 10001})
    assert too_much.value.code == "amount_too_large"
    rest = client.v1.refunds.create(params={"charge": partial.charge})
    assert rest.amount == 10000
    charge = client.v1.charges.retrieve(partial.charge)
    assert charge.refunded is True and charge.amount_refunded == 16500
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"payment_intent": intent_id})
    assert again.value.code == "charge_already_refunded"

    receiver.wait_for(lambda ds: [d.event["type"] for d in ds].count("charge.refunded") == 2)
    refunded = [e for e in receiver.verified_events() if e.type == "charge.refunded"]
    assert [e.data.object.amount_refunded for e in refunded] == [6500, 16500]
    assert refunded[0].data.previous_attributes.amount_refunded == 0
    assert [r.id for r in client.v1.refunds.list(params={"payment_intent": intent_id}).data] == [rest.id, partial.id]


def test_a_chargeback_opens_and_closes_a_dispute_with_its_webhooks(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, evaluation: stripe.Price
) -> None:
    session = _checkout(client, evaluation, "payment")
    intent = client.v1.payment_intents.retrieve(
        standin.post(f"/_standin/checkout/sessions/{session.id}/pay")["payment_intent"]
    )

    dispute = standin.post(f"/_standin/charges/{intent.latest_charge}/dispute", reason="fraudulent")
    assert client.v1.charges.retrieve(intent.latest_charge).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refused.value.code == "charge_disputed"
    standin.post(f"/_standin/disputes/{dispute['id']}/close", status="won")

    receiver.wait_for(lambda ds: "charge.dispute.closed" in [d.event["type"] for d in ds])
    events = _events_by_type(receiver)
    assert events["charge.dispute.created"].data.object.payment_intent == intent.id
    assert events["charge.dispute.closed"].data.object.status == "won"
    assert client.v1.disputes.retrieve(dispute["id"]).status == "won"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.close(dispute["id"])


def test_the_events_api_lists_what_was_sent_for_reconciliation(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, evaluation: stripe.Price
) -> None:
    session = _checkout(client, evaluation, "payment")
    standin.post(f"/_standin/checkout/sessions/{session.id}/pay")
    receiver.wait_for(lambda ds: "checkout.session.completed" in [d.event["type"] for d in ds])

    completed = client.v1.events.list(params={"type": "checkout.session.completed"}).data
    assert len(completed) == 1 and completed[0].data.object.id == session.id
    fetched = client.v1.events.retrieve(completed[0].id)
    assert fetched.type == "checkout.session.completed"
    wildcard = {e.type for e in client.v1.events.list(params={"type": "payment_intent.*"}).data}
    assert wildcard == {"payment_intent.created", "payment_intent.succeeded"}
    delivered_ids = {d.event["id"] for d in receiver.deliveries}
    assert {e.id for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()} == delivered_ids


def test_a_payment_intent_confirmed_with_stripes_test_cards_succeeds_or_is_declined(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = client.v1.customers.create(params={"email": "reset@dynasty.test"})
    paid = client.v1.payment_intents.create(
        params={
            "amount": 4900,
            "currency": "usd",
            "customer": customer.id,
            "metadata": {"reset_of": "acct-1"},
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
        options={"idempotency_key": "reset-acct-1-attempt-2"},
    )
    assert paid.status == "succeeded" and paid.amount_received == 4900 and paid.latest_charge.startswith("ch_")

    declined = client.v1.payment_intents.create(params={"amount": 4900, "currency": "usd"})
    assert declined.status == "requires_payment_method"
    declined = client.v1.payment_intents.confirm(declined.id, params={"payment_method": "pm_card_chargeDeclined"})
    assert declined.status == "requires_payment_method" and declined.last_payment_error.code == "card_declined"
    canceled = client.v1.payment_intents.cancel(declined.id)
    assert canceled.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(paid.id)

    receiver.wait_for(lambda ds: "payment_intent.canceled" in [d.event["type"] for d in ds])
    assert receiver.types().count("payment_intent.succeeded") == 1
    assert receiver.types().count("payment_intent.payment_failed") == 1


def test_expired_sessions_cannot_be_paid(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver, evaluation: stripe.Price
) -> None:
    expired = client.v1.checkout.sessions.expire(_checkout(client, evaluation, "payment").id)
    assert expired.status == "expired" and expired.url is None
    refused = standin.control.post(f"/_standin/checkout/sessions/{expired.id}/pay", json={})
    assert refused.status_code == 400

    late = _checkout(client, evaluation, "payment", expires_at=int(time.time()) + 1)
    time.sleep(1.1)
    answered = standin.post(f"/_standin/checkout/sessions/{late.id}/pay")

    assert answered["status"] == "expired" and answered["payment_intent"] is None
    receiver.wait_for(lambda ds: [d.event["type"] for d in ds].count("checkout.session.expired") == 2)
    assert "payment_intent.created" not in receiver.types()
