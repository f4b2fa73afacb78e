"""Calling identity from a route: the caller's token (when the route has one) and the client facts ride along."""

from __future__ import annotations

from fastapi import Request

from gateway.client import call_metadata
from libs.platform.auth import Claims


async def identity_rpc(request: Request, method: str, message, claims: Claims | None = None):
    upstreams = request.app.state.upstreams
    rpc = getattr(upstreams.identity(), method)
    return await rpc(message, timeout=upstreams.timeout, metadata=call_metadata(request, claims))
