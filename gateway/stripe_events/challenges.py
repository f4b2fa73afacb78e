"""Stripe payment events (checkout, payment intents, invoices, subscriptions, charges, disputes) -> challenges."""

from __future__ import annotations

from typing import Any

from fastapi import Request

# The event types the challenges service owns (issue 5 fills this in with its forwarder).
EVENT_PREFIXES: tuple[str, ...] = ()


async def forward(event: dict[str, Any], payload: bytes, request: Request) -> None:
    raise NotImplementedError("payment events are wired by the purchase work (issue 5)")
