"""POST /v1/webhooks/stripe refuses what Stripe did not sign (or signed too long ago) before anything is forwarded.

The secret is the one conftest.gateway_settings gives the gateway."""

import hashlib
import hmac
import json
import time

SECRET = "whsec_test"


def signed(payload: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={mac}", "content-type": "application/json"}


async def test_a_bad_signature_is_refused(http):
    payload = json.dumps({"id": "evt_1", "type": "customer.created", "data": {"object": {}}}).encode()
    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload, secret="whsec_other"))
    assert reply.status_code == 400 and reply.json()["reason"] == "INVALID_SIGNATURE"


async def test_a_timestamp_outside_the_tolerance_is_refused(http):
    payload = json.dumps({"id": "evt_2", "type": "customer.created", "data": {"object": {}}}).encode()
    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload, at=int(time.time()) - 3600))
    assert reply.status_code == 400 and reply.json()["reason"] == "INVALID_SIGNATURE"


async def test_a_signed_event_of_a_type_no_service_owns_is_acknowledged(http):
    payload = json.dumps({"id": "evt_3", "type": "customer.created", "data": {"object": {}}}).encode()
    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload))
    assert reply.status_code == 200 and reply.json() == {"received": True, "handled": False}


async def test_a_signed_payload_that_is_not_an_event_is_refused(http):
    payload = json.dumps({"hello": "world"}).encode()
    reply = await http.post("/v1/webhooks/stripe", content=payload, headers=signed(payload))
    assert reply.status_code == 400 and reply.json()["reason"] == "INVALID_ARGUMENT"
