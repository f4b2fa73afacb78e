"""The revocation keys of libs/platform/auth.py, written for logout, logout-everywhere, role changes, suspension,
termination and reinstatement. Their TTL is the access-token lifetime plus a margin: after that every token they
could refuse has expired by itself."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from redis.asyncio import Redis

from libs.platform.auth import revoked_session_key, revoked_user_key
from services.identity.domain.sessions import ACCESS_TOKEN_LIFETIME

TTL_SECONDS = int(ACCESS_TOKEN_LIFETIME.total_seconds()) + 300


class RedisRevocations:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def revoke_session(self, session_id: UUID) -> None:
        await self._redis.set(revoked_session_key(str(session_id)), "1", ex=TTL_SECONDS)

    async def revoke_user(self, user_id: UUID, *, before: datetime, reason: str) -> None:
        value = json.dumps({"before": int(before.timestamp()), "reason": reason})
        await self._redis.set(revoked_user_key(str(user_id)), value, ex=TTL_SECONDS)

    async def revoked_before(self, user_id: UUID) -> int | None:
        """The `before` of the user's revocation key, if any (the issuer dates new tokens after it)."""
        raw = await self._redis.get(revoked_user_key(str(user_id)))
        return int(json.loads(raw)["before"]) if raw else None
