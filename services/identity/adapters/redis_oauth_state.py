"""OAuth sign-in state kept server-side in Redis: the nonce and PKCE verifier never reach the browser.

Keyed by the SHA-256 of the state (a leaked Redis dump does not hand out live states), with a short TTL, and
taken with GETDEL so a state is good for one callback only: a replayed callback finds nothing.
"""

from __future__ import annotations

import hashlib
import json

from redis.asyncio import Redis

from services.identity.application.kyc_ports import PendingAuthorization

PREFIX = "identity:oauth-state:"


def _key(state: str) -> str:
    return PREFIX + hashlib.sha256(state.encode()).hexdigest()


class RedisOAuthStateStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def put(self, state: str, pending: PendingAuthorization, ttl_seconds: int) -> None:
        await self._redis.set(_key(state), json.dumps(pending.__dict__), ex=ttl_seconds)

    async def take(self, state: str) -> PendingAuthorization | None:
        raw = await self._redis.getdel(_key(state))
        if raw is None:
            return None
        return PendingAuthorization(**json.loads(raw))
