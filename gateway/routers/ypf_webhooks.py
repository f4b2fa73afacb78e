"""POST /v1/webhooks/yourpropfirm: the trading platform's signed events in (docs/integrations.md, "Webhooks").

In order, before anything is stored or forwarded:
1. the X-YPF-Signature HMAC-SHA256 over "<t>.<raw body>" with the webhook secret, compared in constant time;
2. the signed timestamp within 300 s of now (an old, validly signed delivery is a replay);
3. the event id not seen in the last 7 days (Redis SET NX with a TTL, shared by every gateway replica): a repeat
   is acknowledged (200, duplicate) without forwarding, since the platform delivers at least once.
Then rules.IngestTradeEvents, which stores the event by its id before acting and checks the signature again; concurrent
deliveries share one call (gateway/ypf_coalescer.py, ADR 0070), each still answered with its own outcome. If the
rules service fails, the seen-mark is removed and we answer 5xx: the platform retries and nothing is lost. A bad
signature or a stale timestamp is a 400 and nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.client import call_metadata
from gateway.problems import problem
from gateway.ypf_coalescer import WebhookCoalescer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SIGNATURE_TOLERANCE_SECONDS = 300
SEEN_TTL_SECONDS = 7 * 24 * 3600
SIGNATURE_HEADER = "x-ypf-signature"


def _secret(request: Request) -> str | None:
    """DYNASTY_YOURPROPFIRM_WEBHOOK_SECRET (GatewaySettings), from Secrets Manager in production."""
    return request.app.state.settings.yourpropfirm_webhook_secret


def signature_problem(secret: str, header: str, body: bytes, now: float) -> str | None:
    """Why the signature is refused, or None when it signs this body recently enough."""
    timestamp: int | None = None
    given: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            given.append(value)
    if timestamp is None or not given:
        return "the signature header needs t and v1"
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in given):
        return "the signature does not match the body"
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return "the signature's timestamp is outside the tolerance"
    return None


@router.post(
    "/yourpropfirm",
    summary="YourPropFirm webhook endpoint (signed with X-YPF-Signature)",
    responses={400: {"description": "Bad signature, stale timestamp or malformed event"}},
)
async def yourpropfirm_webhook(request: Request) -> JSONResponse:
    body = await request.body()
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        return problem(
            400, "the X-YPF-Signature header is missing", reason="INVALID_SIGNATURE", instance=request.url.path
        )
    secret = _secret(request)
    if not secret:
        log.error("a YourPropFirm webhook arrived but DYNASTY_YOURPROPFIRM_WEBHOOK_SECRET is not configured")
        return problem(503, "webhooks are not configured", reason="UNAVAILABLE", instance=request.url.path)
    refused = signature_problem(secret, header, body, time.time())
    if refused is not None:
        log.warning("YourPropFirm webhook refused: %s (sha256 %s)", refused, hashlib.sha256(body).hexdigest())
        return problem(400, "signature verification failed", reason="INVALID_SIGNATURE", instance=request.url.path)
    try:
        event_id = json.loads(body).get("id")
    except (ValueError, AttributeError):
        event_id = None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
        return problem(
            400, "the payload is not a YourPropFirm event", reason="INVALID_ARGUMENT", instance=request.url.path
        )
    redis = request.app.state.redis
    seen_key = f"ypf:webhook:seen:{event_id}"
    if not await redis.set(seen_key, "1", nx=True, ex=SEEN_TTL_SECONDS):
        return JSONResponse({"received": True, "duplicate": True})
    from dynasty.rules.v1 import rules_service_pb2 as pb

    coalescer: WebhookCoalescer = request.app.state.ypf_coalescer
    try:
        # With concurrent deliveries, one IngestTradeEvents call for several (gateway/ypf_coalescer.py); the answer
        # and the errors are this event's own either way.
        result = await coalescer.ingest(pb.PlatformEvent(body=body, signature=header), call_metadata(request))
    except grpc.aio.AioRpcError:
        # Not taken: a retry must reach the rules service again (and a malformed event be refused again).
        await redis.delete(seen_key)
        raise
    outcome = pb.IngestOutcome.Name(result.outcome).removeprefix("INGEST_OUTCOME_").lower()
    return JSONResponse({"received": True, "outcome": outcome})
