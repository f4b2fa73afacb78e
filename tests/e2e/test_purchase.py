"""Done when (issue 5): a trader buys a $50K challenge through the gateway of the running stack (four services, the
gateway, the Stripe stand-in and the YourPropFirm simulator as processes; real PostgreSQL and Redis). The stand-in
completes the payment and sends its signed webhooks; the account becomes active with its rule set snapshotted and
the trader sees it at GET /v1/accounts, with the platform login in their mailbox and the password revealed once at
GET /v1/accounts/{id}/credentials (ADR 0045).
"""

from __future__ import annotations

import re
import time
import uuid

import httpx

from devstack.stack import Stack
from libs.platform.mailbox import read_mailbox

PASSWORD = "a quiet orange lighthouse"
VERIFY_LINK = re.compile(r"verify-email\?token=(\S+)")


def wait_for(what: str, probe, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def signed_in_trader(stack: Stack, http: httpx.Client) -> tuple[str, dict[str, str]]:
    email = f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    assert http.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202

    def token():
        for message in read_mailbox(stack.mail_dir, to=email):
            found = VERIFY_LINK.search(message.get_content())
            if found:
                return found.group(1)
        return None

    assert http.post("/v1/auth/verify-email", json={"token": wait_for("the verification mail", token)}).is_success
    reply = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return email, {"Authorization": f"Bearer {reply.json()['session']['access_token']}"}


def test_a_trader_buys_a_50k_challenge_and_sees_the_active_account(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http, httpx.Client(timeout=30) as outside:
        email, trader = signed_in_trader(stack, http)
        program = http.get("/v1/programs/eval-50k").json()
        assert program["account_size"] == {"amount": "50000.00", "currency": "USD"}

        reply = http.post(
            "/v1/orders",
            json={
                "program_id": "eval-50k",
                "program_version": program["version"],
                "success_url": "https://app.dynasty.test/checkout/done",
                "cancel_url": "https://app.dynasty.test/checkout/cancelled",
            },
            headers={**trader, "Idempotency-Key": f"e2e-{uuid.uuid4().hex}"},
        )
        assert reply.status_code == 201, reply.text
        order = reply.json()
        assert order["status"] == "pending" and order["price"] == program["price"]
        assert order["checkout_url"].startswith(stack.stripe_url)

        # The trader pays on Stripe's hosted page (the stand-in's control plays the customer and the card network).
        session_id = order["checkout_url"].rsplit("/", 1)[-1]
        paid = outside.post(f"{stack.stripe_url}/_standin/checkout/sessions/{session_id}/pay", json={})
        assert paid.status_code == 200, paid.text

        def active():
            accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
            return accounts if accounts and accounts[0]["status"] == "phase_1" else None

        (account,) = wait_for("the account to become active", active)
        assert account["program_id"] == "eval-50k" and account["program_version"] == program["version"]
        assert account["phases"] == program["phases"]  # the exact rule sets, snapshotted
        assert account["phases"][0]["rule_set"]["start_balance"] == "50000.00"
        assert account["attempts"][0]["number"] == 1 and account["attempts"][0]["phase"] == "phase_1"
        assert account["platform_login"]

        one = http.get(f"/v1/accounts/{account['id']}", headers=trader).json()
        assert one == account
        assert http.get(f"/v1/orders/{order['id']}", headers=trader).json()["account_id"] == account["id"]

        def credentials():
            return [m for m in read_mailbox(stack.mail_dir, to=email) if "trading account" in m["Subject"]]

        (mail,) = wait_for("the credentials mail", credentials)
        body = mail.get_content()
        assert account["platform_login"] in body and f"/accounts/{account['id']}/credentials" in body
        # The password is not mailed (ADR 0045): the trader reveals it once, signed in.
        revealed = http.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
        assert revealed.status_code == 200, revealed.text
        shown = revealed.json()
        assert shown["login"] == account["platform_login"] and shown["password"] not in body


def test_duplicated_and_reordered_webhooks_on_the_running_stack_still_give_one_account(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http, httpx.Client(timeout=30) as outside:
        _email, trader = signed_in_trader(stack, http)
        knobs = {"duplicates": 2, "order": "reverse", "window_size": 8, "window_wait_seconds": 0.3}
        assert outside.post(f"{stack.stripe_url}/_standin/config", json=knobs).status_code == 200
        try:
            reply = http.post(
                "/v1/orders",
                json={"program_id": "eval-50k", "success_url": "https://a.test/ok", "cancel_url": "https://a.test/no"},
                headers={**trader, "Idempotency-Key": f"e2e-dup-{uuid.uuid4().hex}"},
            )
            assert reply.status_code == 201, reply.text
            session_id = reply.json()["checkout_url"].rsplit("/", 1)[-1]
            assert outside.post(f"{stack.stripe_url}/_standin/checkout/sessions/{session_id}/pay", json={}).is_success

            def settled():
                state = outside.get(f"{stack.stripe_url}/_standin/deliveries").json()
                accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
                return accounts if state["idle"] and accounts and accounts[0]["status"] == "phase_1" else None

            (account,) = wait_for("the webhooks to drain and the account to be active", settled)
            assert [a["number"] for a in account["attempts"]] == [1]
        finally:
            reset = {"duplicates": 0, "order": "in_order", "window_size": 1}
            outside.post(f"{stack.stripe_url}/_standin/config", json=reset)
