"""Stripe's events API (GET /v1/events, GET /v1/events/{id}): what a webhook consumer reconciles against."""

from __future__ import annotations

from typing import Any

from devstack.stripe_standin.api import Call, State, list_of


def retrieve(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "event", "event")


def list_events(state: State, call: Call) -> dict[str, Any]:
    wanted = call.get("type")
    types = call.get("types")
    types = set(types) if isinstance(types, list) else None

    def matches(event: dict[str, Any]) -> bool:
        if types is not None and event["type"] not in types:
            return False
        if wanted is None:
            return True
        if wanted.endswith(".*"):  # Stripe lets `type` end in a wildcard
            return event["type"].startswith(wanted[:-1])
        return event["type"] == wanted

    return list_of(state, "event", call, matches)


ROUTES = [
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{id}", retrieve),
]
