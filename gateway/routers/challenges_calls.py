"""Calling challenges from a route, as identity_calls does for identity: the gateway's upstream timeout, and the
request id, client facts and (when the route has one) the caller's token riding along, the same for every route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from gateway.client import call_metadata
from libs.platform.auth import Claims

# The Idempotency-Key header of a route whose challenges use case requires one: its limits are the use cases' own
# (1 to 255 characters), here once so every such route refuses the same keys before calling.
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]


async def challenges_rpc(request: Request, method: str, message, claims: Claims | None = None):
    upstreams = request.app.state.upstreams
    rpc = getattr(upstreams.challenges(), method)
    return await rpc(message, timeout=upstreams.timeout, metadata=call_metadata(request, claims))
