"""Login throttling counters in Redis (shared by every identity replica). The decision is the domain's
(services/identity/domain/throttling.py); this adapter only counts failures and remembers the last one.

Keys: identity:throttle:<account key> and identity:throttle:ip:<ip>, each a hash {failures, last} expiring after
the policy's window since the last failure.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from services.identity.domain.throttling import ACCOUNT_POLICY, IP_POLICY, ThrottlePolicy


class RedisLoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        account_policy: ThrottlePolicy = ACCOUNT_POLICY,
        ip_policy: ThrottlePolicy = IP_POLICY,
        clock=time.time,
    ) -> None:
        self._redis = redis
        self._account = account_policy
        self._ip = ip_policy
        self._now = clock

    @staticmethod
    def _account_key(key: str) -> str:
        return f"identity:throttle:{key}"

    @staticmethod
    def _ip_key(ip: str) -> str:
        return f"identity:throttle:ip:{ip}"

    async def retry_after(self, account_key: str, ip: str | None) -> int:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._account_key(account_key), "failures", "last")
            if ip:
                pipe.hmget(self._ip_key(ip), "failures", "last")
            answers = await pipe.execute()
        now = self._now()
        wait = self._account.wait_seconds(*_counter(answers[0], now))
        if ip:
            wait = max(wait, self._ip.wait_seconds(*_counter(answers[1], now)))
        return wait

    async def record_failure(self, account_key: str, ip: str | None) -> None:
        now = self._now()
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, policy in ((self._account_key(account_key), self._account), (ip and self._ip_key(ip), self._ip)):
                if key:
                    pipe.hincrby(key, "failures", 1)
                    pipe.hset(key, "last", repr(now))
                    pipe.expire(key, policy.window_seconds + policy.lockout_seconds)
            await pipe.execute()

    async def clear_account(self, account_key: str) -> None:
        await self._redis.delete(self._account_key(account_key))


def _counter(answer, now: float) -> tuple[int, float]:
    failures, last = answer or (None, None)
    if failures is None:
        return 0, 0.0
    return int(failures), now - float(last or 0)
