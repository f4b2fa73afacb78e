"""Live notices on Redis pub/sub `notifications:user:<user_id>` (the gateway's WebSocket relays them to every
replica's connected clients; the challenges service publishes on the same channel)."""

from __future__ import annotations

import json

from redis.asyncio import Redis


def user_channel(user_id: str) -> str:
    return f"notifications:user:{user_id}"


class RedisNotices:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def risk_updated(self, user_id: str, update: dict) -> None:
        await self._redis.publish(user_channel(user_id), json.dumps(update, sort_keys=True))

    async def notify_user(self, user_id: str, notice: dict) -> None:
        await self._redis.publish(user_channel(user_id), json.dumps(notice, sort_keys=True))

    async def publish_many(self, notices: list[tuple[str, dict]]) -> None:
        if not notices:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, notice in notices:
                pipe.publish(user_channel(user_id), json.dumps(notice, sort_keys=True))
            await pipe.execute()
