"""Outgoing notices: live ones on Redis pub/sub (the gateway's WebSocket relays them) and the user directory.

Pub/sub is fire-and-forget by design: a user with no open session misses the live notice and sees the account on
their next GET /v1/accounts; the email is the durable message.
"""

from __future__ import annotations

import json

from redis.asyncio import Redis


def user_channel(user_id: str) -> str:
    return f"notifications:user:{user_id}"


class RedisNotifier:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def notify_user(self, user_id: str, notice: dict) -> None:
        await self._redis.publish(user_channel(user_id), json.dumps(notice, sort_keys=True))


class IdentityUserDirectory:
    """The caller's email from identity's GetMe, called with the caller's own token (so identity decides)."""

    def __init__(self, target: str, timeout: float = 5.0) -> None:
        from libs.platform.grpc_client import insecure_channel

        self._channel = insecure_channel(target)
        self._timeout = timeout

    async def email_of_caller(self, bearer_token: str) -> str:
        from dynasty.identity.v1 import identity_service_pb2 as pb
        from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc

        reply = await pb_grpc.IdentityServiceStub(self._channel).GetMe(
            pb.GetMeRequest(), timeout=self._timeout, metadata=(("authorization", f"Bearer {bearer_token}"),)
        )
        return reply.user.email

    async def close(self) -> None:
        await self._channel.close()
