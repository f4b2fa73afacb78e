"""POST /v1/webhooks/stripe: Stripe's signed events in.

Verified with the official SDK (`stripe.Webhook.construct_event`: HMAC signature and timestamp tolerance) before
anything else; a bad signature or a stale timestamp is a 400 and nothing is stored or forwarded. A verified event
goes to its owning service (gateway.stripe_events), which stores it by event id before acting, so Stripe's retries
and replays are harmless. If the owning service fails, we answer 5xx and Stripe retries later: nothing is lost.
"""

from __future__ import annotations

import json
import logging

import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.problems import problem
from gateway.stripe_events import route_for

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's default: a replay of an old, validly signed event is refused


@router.post(
    "/stripe",
    summary="Stripe webhook endpoint (signed by Stripe)",
    responses={400: {"description": "Bad signature, stale timestamp or malformed event"}},
)
async def stripe_webhook(request: Request) -> JSONResponse:
    payload = await request.body()
    secret = request.app.state.settings.stripe_webhook_secret
    if not secret:
        log.error("a Stripe webhook arrived but DYNASTY_STRIPE_WEBHOOK_SECRET is not configured")
        return problem(503, "webhooks are not configured", reason="UNAVAILABLE", instance=request.url.path)
    try:
        stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature", ""), secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        log.warning("Stripe webhook refused: %s", exc.user_message or "bad signature")
        return problem(400, "signature verification failed", reason="INVALID_SIGNATURE", instance=request.url.path)
    except ValueError:
        return problem(400, "the payload is not a Stripe event", reason="INVALID_ARGUMENT", instance=request.url.path)
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        return problem(400, "the payload is not a Stripe event", reason="INVALID_ARGUMENT", instance=request.url.path)
    forward = route_for(event["type"])
    if forward is None:
        log.info("Stripe event %s of type %s has no owner here; acknowledged", event["id"], event["type"])
        return JSONResponse({"received": True, "handled": False})
    await forward(event, payload, request)
    return JSONResponse({"received": True, "handled": True})
