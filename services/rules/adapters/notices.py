"""Live notices on Redis pub/sub `notifications:user:<user_id>` (the gateway's WebSocket relays them to every
replica's connected clients; the challenges service publishes on the same channel)."""

from __future__ import annotations

import json

from redis.asyncio import Redis

CHANNEL_PREFIX = "notifications:user:"


def user_channel(user_id: str) -> str:
    return f"{CHANNEL_PREFIX}{user_id}"


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

    async def watched_users(self) -> set[str]:
        """The users whose channel has at least one subscriber now: PUBSUB CHANNELS, one round trip. Every gateway
        replica subscribes on this same (non-cluster) Redis, so the answer covers them all. Raises when Redis does."""
        channels = await self._redis.pubsub_channels(f"{CHANNEL_PREFIX}*")
        users = set()
        for channel in channels:
            name = channel.decode() if isinstance(channel, bytes) else channel
            users.add(name[len(CHANNEL_PREFIX) :])
        return users
