"""A JwksSource that asks the identity service for its JWK Set over gRPC (GetJwks).

The TokenVerifier caches what this returns, so it is called at start, when the cache ages out, and when a token
names a key the cache does not hold (rotation); never once per request. Because anyone can send a token naming a
made-up `kid`, this source answers from its last reply for `min_interval_seconds` instead of asking identity again:
a flood of such tokens costs identity at most one GetJwks per interval. Identity publishes a new key before it signs
with it, so a real rotation is never held up by this.
"""

from __future__ import annotations

import asyncio
import json
import time

import grpc

from libs.platform.grpc_client import insecure_channel


class GrpcJwksSource:
    """Callable as `await source()` -> the JWK Set dict. Owns its channel unless one is given."""

    def __init__(
        self,
        target: str | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        timeout: float = 5.0,
        min_interval_seconds: float = 10.0,
    ) -> None:
        if (target is None) == (channel is None):
            raise ValueError("give either an identity target or a channel")
        self._own_channel = channel is None
        self._channel = channel if channel is not None else insecure_channel(target)
        self._timeout = timeout
        self._min_interval = min_interval_seconds
        self._last: dict | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # calls that reached identity

    async def __call__(self) -> dict:
        async with self._lock:
            if self._last is not None and time.monotonic() - self._fetched_at < self._min_interval:
                return self._last
            self._last = await self._fetch()
            self._fetched_at = time.monotonic()
            self.fetches += 1
            return self._last

    async def _fetch(self) -> dict:
        from dynasty.identity.v1 import identity_service_pb2 as pb
        from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc

        reply = await pb_grpc.IdentityServiceStub(self._channel).GetJwks(pb.GetJwksRequest(), timeout=self._timeout)
        jwks = json.loads(reply.jwks_json)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("identity answered GetJwks with something that is not a JWK Set")
        return jwks

    async def close(self) -> None:
        if self._own_channel:
            await self._channel.close()
