"""Stripe payment events (checkout, payment intents, invoices, subscriptions, charges, disputes) -> challenges.

The raw body and its Stripe-Signature header cross unchanged: the challenges service checks the signature again
(only Stripe-signed events move money), stores the event by its id and applies it once. Any failure propagates, the
endpoint answers non-2xx, and Stripe delivers the event again later; the service's event store makes that harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from gateway.routers.challenges_calls import challenges_rpc

log = logging.getLogger(__name__)

# Exact types (a prefix may be a whole type): only what the service acts on crosses. The rest of Stripe's stream
# (payment_intent.created, charge.succeeded, product.created ...) is acknowledged by the endpoint as unowned, so a
# promotion's burst does not spend a database write per event nobody reads. Monthly programs add the subscription
# events that change an account (ADR 0051): invoices paid or failed, the end, and updates (a cancellation at period
# end scheduled or undone, shown on the account); invoice.created/finalized change nothing.
EVENT_PREFIXES: tuple[str, ...] = (
    "checkout.session.completed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.deleted",
    "customer.subscription.updated",
)


async def forward(event: dict[str, Any], payload: bytes, request: Request) -> None:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "RecordStripeEvent",
        pb.RecordStripeEventRequest(payload=payload, signature=request.headers.get("stripe-signature", "")),
    )
    if reply.duplicate:
        log.info("Stripe event %s was applied before; nothing changed", event["id"])
