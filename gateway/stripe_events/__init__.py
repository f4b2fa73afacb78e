"""Where each verified Stripe event goes: the service that owns what the event is about.

The gateway holds nothing durable: it verifies the signature, then hands the event to the owning service, which
stores it by Stripe event id before acting on it (so a replay changes nothing). Routes are matched by event-type
prefix, first match wins. An event type no service owns is acknowledged and logged, so Stripe stops resending it:
our endpoint is subscribed to every type, and Stripe sends `*.created` events for objects we create ourselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

# A forwarder gets the verified event (a dict as Stripe sent it), the raw payload and the request (for upstreams).
Forwarder = Callable[[dict[str, Any], bytes, Request], Awaitable[None]]


def _routes() -> list[tuple[str, Forwarder]]:
    # Imported here so that each owning area's module is loaded once the app runs, not at import of the gateway.
    from gateway.stripe_events import challenges, identity

    return [
        ("identity.verification_session.", identity.forward),
        *((prefix, challenges.forward) for prefix in challenges.EVENT_PREFIXES),
    ]


def route_for(event_type: str) -> Forwarder | None:
    for prefix, forwarder in _routes():
        if event_type.startswith(prefix):
            return forwarder
    return None
