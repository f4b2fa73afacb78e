"""Funding on the running stack (ADR 0046): a trader buys a $50K challenge, passes it, has their identity verified
through Stripe Identity (the stand-in's hosted check and its signed webhooks to identity), accepts the funded-trader
agreement and funds the account through the gateway. Challenges asks the identity process over gRPC; the account is
funded once, with a new attempt under the funded rule set, and the platform account is reset by the worker.

The phase passes are the one thing not produced by trading here: reaching a profit target over the minimum trading
days is the rules service's job (tests/e2e/test_monitoring.py drives it by fills), so this test delivers
AccountPhasePassed to challenges' EventsService exactly as the rules service's outbox relay does.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import grpc
import httpx
import psycopg

from devstack.stack import YPF_CLIENT_KEY
from tests.e2e.test_purchase import signed_in_trader, wait_for


def deliver_phase_passed(stack, account_id: str, phase: str) -> None:
    from dynasty.events.v1 import events_service_pb2 as pb
    from dynasty.events.v1 import events_service_pb2_grpc as pb_grpc

    request = pb.DeliverEventRequest(
        event_id=str(uuid.uuid4()),
        event_type="AccountPhasePassed",
        source="rules",
        aggregate_id=account_id,
        aggregate_version=1,
        payload_json=json.dumps({"account_id": account_id, "phase": phase, "at": datetime.now(UTC).isoformat()}),
    )
    request.occurred_at.FromDatetime(datetime.now(UTC))
    with grpc.insecure_channel(stack.target("challenges")) as channel:
        pb_grpc.EventsServiceStub(channel).DeliverEvent(request, timeout=10)


def test_a_passed_trader_verifies_kyc_accepts_the_agreement_and_is_funded_once(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http, httpx.Client(timeout=30) as outside:
        _email, trader = signed_in_trader(stack, http)
        order = http.post(
            "/v1/orders",
            json={
                "program_id": "eval-50k",
                "success_url": "https://app.dynasty.test/checkout/done",
                "cancel_url": "https://app.dynasty.test/checkout/cancelled",
            },
            headers={**trader, "Idempotency-Key": f"e2e-fund-{uuid.uuid4().hex}"},
        ).json()
        session_id = order["checkout_url"].rsplit("/", 1)[-1]
        assert outside.post(f"{stack.stripe_url}/_standin/checkout/sessions/{session_id}/pay", json={}).is_success

        def account_in(status: str):
            def probe():
                accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
                return accounts[0] if accounts and accounts[0]["status"] == status else None

            return probe

        account = wait_for("the account to become active", account_in("phase_1"))
        for phase in [p["kind"] for p in account["phases"] if p["kind"] != "funded"]:
            deliver_phase_passed(stack, account["id"], phase)
        wait_for("the account to pass", account_in("passed"))
        path = f"/v1/accounts/{account['id']}"

        # Not yet: identity has no approved KYC for this trader, and the refusal says so.
        refused = http.post(f"{path}/fund", headers=trader)
        assert refused.status_code == 409 and refused.json()["reason"] == "KYC_NOT_APPROVED", refused.text

        opened = http.post("/v1/kyc/session", json={"return_url": "https://app.dynasty.test/kyc"}, headers=trader)
        assert opened.status_code == 200, opened.text
        verification = opened.json()["kyc_case"]["verification_session_id"]
        verified = outside.post(f"{stack.stripe_url}/_standin/identity/verification_sessions/{verification}/verify")
        assert verified.status_code == 200, verified.text
        wait_for("KYC approved", lambda: http.get("/v1/kyc", headers=trader).json()["status"] == "approved")

        no_agreement = http.post(f"{path}/fund", headers=trader)
        assert no_agreement.status_code == 409 and no_agreement.json()["reason"] == "AGREEMENT_NOT_ACCEPTED"

        agreement = http.get("/v1/funded-agreement", headers=trader).json()
        accepted = http.post(
            f"{path}/funded-agreement",
            json={"agreement_version": agreement["version"], "agreement_sha256": agreement["sha256"]},
            headers=trader,
        )
        assert accepted.status_code == 201 and accepted.json()["already_accepted"] is False, accepted.text

        key = f"e2e-fund-{account['id']}"
        funded = http.post(f"{path}/fund", headers={**trader, "Idempotency-Key": key})
        assert funded.status_code == 200, f"{funded.text}\nchallenges log:\n{stack.log_tail('challenges')}"
        body = funded.json()
        assert body["already_funded"] is False and body["account"]["status"] == "funded"
        assert body["account"]["attempts"][-1]["phase"] == "funded"
        again = http.post(f"{path}/fund", headers=trader).json()
        assert again["already_funded"] is True and len(again["account"]["attempts"]) == len(body["account"]["attempts"])

        # The platform account is reset to its starting balance for the funded stage, by the worker.
        with psycopg.connect(stack.database_url) as conn:
            (platform_user,) = conn.execute(
                "SELECT platform_user_id FROM challenges.trading_accounts WHERE account_id = %s", (account["id"],)
            ).fetchone()

        def reset_on_platform():
            reply = outside.get(
                f"{stack.ypf_url}/client/v1/users/{platform_user}", headers={"X-Client-Key": YPF_CLIENT_KEY}
            )
            (on_platform,) = reply.json()["accounts"]
            return on_platform if on_platform["attempt"] == 2 else None

        on_platform = wait_for("the platform reset", reset_on_platform)
        assert on_platform["balance"] == on_platform["startingBalance"]
        time.sleep(0.5)  # a second reset would have shown by now: still attempt 2
        assert reset_on_platform()["attempt"] == 2
