"""Issue 5's chargeback on the running stack (services, gateway, Stripe stand-in, simulator as processes; real
PostgreSQL and Redis): a trader's payment is disputed, challenges suspends the account and, through its outbox relay
to identity's inbox, the user is flagged for review; an admin signed in with TOTP finds them in the queue, reads the
dispute in the flag's evidence and clears it with a reason (ADR 0057)."""

from __future__ import annotations

import uuid

import httpx
import stripe

from devstack.stack import STRIPE_API_KEY
from tests.e2e.test_identity_flow import admin_token, bearer, http  # noqa: F401  (module fixtures reused)
from tests.e2e.test_purchase import signed_in_trader, wait_for


def test_a_disputed_payment_flags_the_trader_for_review_until_staff_clear_it(stack, http, admin_token):  # noqa: F811
    email, trader = signed_in_trader(stack, http)
    reply = http.post(
        "/v1/orders",
        json={"program_id": "eval-50k", "success_url": "https://a.test/ok", "cancel_url": "https://a.test/no"},
        headers={**trader, "Idempotency-Key": f"e2e-cb-{uuid.uuid4().hex}"},
    )
    assert reply.status_code == 201, reply.text
    order = reply.json()
    session_id = order["checkout_url"].rsplit("/", 1)[-1]
    with httpx.Client(base_url=stack.stripe_url, timeout=30) as control:
        assert control.post(f"/_standin/checkout/sessions/{session_id}/pay", json={}).is_success

        def active():
            accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
            return accounts if accounts and accounts[0]["status"] == "phase_1" else None

        (account,) = wait_for("the account to become active", active)
        sdk = stripe.StripeClient(STRIPE_API_KEY, base_addresses={"api": stack.stripe_url}, max_network_retries=0)
        payment = sdk.v1.checkout.sessions.retrieve(session_id).payment_intent
        charge = sdk.v1.charges.list(params={"payment_intent": payment}).data[0]
        dispute = control.post(f"/_standin/charges/{charge.id}/dispute", json={"reason": "fraudulent"}).json()

    def suspended():
        accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
        return accounts[0]["status"] == "suspended"

    wait_for("the disputed account to be suspended", suspended)
    staff = bearer(admin_token)

    def flagged():
        users = http.get(
            "/v1/admin/users", params={"flagged_for_review": "true", "email_contains": email}, headers=staff
        ).json()["users"]
        return users or None

    (user,) = wait_for("identity to flag the trader", flagged)
    assert user["email"] == email and user["flagged_for_review"] is True
    assert user["status"] == "active"  # flagged for review, not suspended: support decides

    detail = http.get(f"/v1/admin/users/{user['id']}", headers=staff).json()
    (flag,) = detail["review_flags"]
    assert (flag["reason"], flag["source"], flag["source_ref"], flag["status"]) == (
        "chargeback",
        "challenges",
        dispute["id"],
        "open",
    )
    assert flag["evidence"]["account_id"] == account["id"]
    assert flag["evidence"]["dispute_reason"] == "fraudulent"
    assert (flag["evidence"]["amount"], flag["evidence"]["currency"]) == (
        order["price"]["amount"],
        order["price"]["currency"],
    )

    cleared = http.post(
        f"/v1/admin/users/{user['id']}/review-flags/{flag['id']}/clear",
        json={"reason": "e2e: cardholder's bank confirmed the purchase"},
        headers=staff,
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["status"] == "cleared"
    again = http.get(
        "/v1/admin/users", params={"flagged_for_review": "true", "email_contains": email}, headers=staff
    ).json()["users"]
    assert again == []
