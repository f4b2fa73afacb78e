"""Monthly programs on the running stack (ADR 0051): a trader buys the $50K monthly evaluation through the gateway,
Stripe's subscription-mode Checkout (the stand-in) opens it, and the stand-in's renewals reach the challenges
process as signed webhooks: a paid month extends paid-through, a declined one opens the grace period while the
account keeps trading. The billing job itself runs in that process (its expiry is covered by the integration tests
with a fixed clock)."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx

from tests.e2e.test_purchase import signed_in_trader, wait_for


def test_a_trader_buys_a_monthly_evaluation_and_a_declined_renewal_opens_the_grace_period(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http, httpx.Client(timeout=30) as outside:
        _, trader = signed_in_trader(stack, http)
        program = http.get("/v1/programs/eval-monthly-50k").json()
        assert program["billing"] == "monthly" and program["price"] == {"amount": "149.00", "currency": "USD"}
        reply = http.post(
            "/v1/orders",
            json={
                "program_id": "eval-monthly-50k",
                "success_url": "https://app.dynasty.test/checkout/done",
                "cancel_url": "https://app.dynasty.test/checkout/cancelled",
            },
            headers={**trader, "Idempotency-Key": f"e2e-{uuid.uuid4().hex}"},
        )
        assert reply.status_code == 201, reply.text
        session_id = reply.json()["checkout_url"].rsplit("/", 1)[-1]
        paid = outside.post(f"{stack.stripe_url}/_standin/checkout/sessions/{session_id}/pay", json={})
        assert paid.status_code == 200, paid.text
        subscription_id = paid.json()["subscription"]

        def account(condition):
            def probe():
                accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
                return accounts[0] if accounts and condition(accounts[0]) else None

            return probe

        active = wait_for("the monthly account", account(lambda a: a["status"] == "phase_1" and a["paid_through"]))
        assert active["billing"] == "monthly" and active["subscription_status"] == "active"
        first = datetime.fromisoformat(active["paid_through"])

        renew = f"{stack.stripe_url}/_standin/subscriptions/{subscription_id}/renew"
        assert outside.post(renew, json={}).status_code == 200
        renewed = wait_for(
            "the renewal", account(lambda a: a["paid_through"] and datetime.fromisoformat(a["paid_through"]) > first)
        )
        assert renewed["status"] == "phase_1"

        assert outside.post(renew, json={"outcome": "declined"}).status_code == 200
        in_grace = wait_for("the grace period", account(lambda a: a["grace_until"] is not None))
        assert in_grace["status"] == "phase_1" and in_grace["subscription_status"] == "past_due"
