"""The gateway's KYC webhook forwarding and Apple's form-post OAuth callback, against the canned identity peer:
what reaches identity (and what never does)."""

from __future__ import annotations

import json
import time

from libs.domain.errors import NotFound
from tests.integration.gateway.test_stripe_webhook_endpoint import signed


def identity_event(event_id: str, event_type: str, *, created: int, error_code: str | None = None) -> bytes:
    session = {"id": "vs_test_123", "object": "identity.verification_session", "status": "requires_input"}
    if error_code:
        session["last_error"] = {"code": error_code, "reason": "expired"}
    return json.dumps(
        {"id": event_id, "object": "event", "type": event_type, "created": created, "data": {"object": session}}
    ).encode()


async def test_a_signed_identity_event_reaches_identity_with_its_id_time_session_and_error(http, upstream):
    created = int(time.time()) - 5
    payload = identity_event(
        "evt_kyc_1", "identity.verification_session.requires_input", created=created, error_code="document_expired"
    )

    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload))

    assert reply.status_code == 200 and reply.json() == {"received": True, "handled": True}
    method, request, metadata = upstream.identity.calls[-1]
    assert method == "ApplyKycVerificationEvent"
    assert request.stripe_event_id == "evt_kyc_1"
    assert request.event_type == "identity.verification_session.requires_input"
    assert request.verification_session_id == "vs_test_123"
    assert request.event_created_at.seconds == created
    assert request.last_error_code == "document_expired"
    assert "authorization" not in metadata  # Stripe is no user: identity sees an anonymous caller


async def test_an_event_for_a_session_identity_does_not_know_is_acknowledged(http, upstream):
    upstream.identity.refuse_next = NotFound("no such session", reason="KYC_SESSION_UNKNOWN")
    payload = identity_event("evt_kyc_2", "identity.verification_session.verified", created=int(time.time()))

    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload))

    assert reply.status_code == 200
    assert upstream.identity.calls[-1][0] == "ApplyKycVerificationEvent"


async def test_an_identity_event_without_a_session_is_refused_before_identity_hears_of_it(http, upstream):
    payload = json.dumps(
        {"id": "evt_kyc_3", "type": "identity.verification_session.verified", "created": 1, "data": {}}
    ).encode()
    calls_before = len(upstream.identity.calls)

    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload))

    assert reply.status_code == 400
    assert len(upstream.identity.calls) == calls_before


async def test_apples_form_post_callback_completes_the_sign_in_with_the_posted_code(http, upstream):
    reply = await http.post(
        "/v1/auth/oauth/apple/callback",
        data={"code": "apple-code", "state": "st-apple", "user": '{"name": {"firstName": "Ann"}}'},
        headers={"Cookie": "dynasty_oauth_state=st-apple"},
    )

    assert reply.status_code == 200, reply.text
    assert reply.json()["created"] is True
    method, request, _ = upstream.identity.calls[-1]
    assert method == "CompleteOAuth"
    assert (request.provider, request.code, request.state) == ("apple", "apple-code", "st-apple")


async def test_a_form_post_whose_state_is_not_this_browsers_is_refused_before_identity(http, upstream):
    calls_before = len(upstream.identity.calls)
    reply = await http.post(
        "/v1/auth/oauth/apple/callback",
        data={"code": "apple-code", "state": "st-attacker"},
        headers={"Cookie": "dynasty_oauth_state=st-victim"},
    )

    assert reply.status_code == 400 and reply.json()["reason"] == "INVALID_ARGUMENT"
    assert len(upstream.identity.calls) == calls_before


async def test_apples_start_sets_a_state_cookie_that_rides_a_cross_site_post(http):
    reply = await http.get("/v1/auth/oauth/apple")

    assert reply.status_code == 302
    cookie = reply.headers["set-cookie"].lower()
    assert "samesite=none" in cookie and "secure" in cookie and "httponly" in cookie
