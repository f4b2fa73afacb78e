"""YourPropFirm enforcement over httpx: flatten and disable, each retried with tenacity under the same
Idempotency-Key, so a retry (or the whole job retried after a crash) never acts twice (docs/integrations.md,
"Enforcement commands")."""

from __future__ import annotations

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter


class PlatformUnavailable(Exception):
    """The platform did not carry the command out this time; the job is retried later under the same key."""


class PlatformRefused(Exception):
    """A 4xx: the platform will never carry this command out (an unknown account); retrying cannot help."""


class _Retryable(Exception):
    pass


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


class YourPropFirmEnforcement:
    def __init__(
        self,
        base_url: str,
        client_key: str,
        *,
        timeout_seconds: float = 5.0,
        attempts: int = 3,
        backoff_seconds: float = 0.1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-Client-Key": client_key},
            timeout=timeout_seconds,
            transport=transport,
        )
        self._attempts = attempts
        self._backoff = backoff_seconds

    async def close(self) -> None:
        await self._http.aclose()

    async def flatten(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return await self._post(f"/client/v1/accounts/{platform_account_id}/flatten", idempotency_key, reason)

    async def disable(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return await self._post(f"/client/v1/accounts/{platform_account_id}/disable", idempotency_key, reason)

    async def enable(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return await self._post(f"/client/v1/accounts/{platform_account_id}/enable", idempotency_key, reason)

    async def _post(self, path: str, key: str, reason: str) -> dict:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_retryable),
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential_jitter(multiplier=self._backoff, max=2.0),
                reraise=True,
            ):
                with attempt:
                    reply = await self._http.post(path, json={"reason": reason}, headers={"Idempotency-Key": key})
                    if reply.status_code >= 500 or reply.status_code == 429:
                        raise _Retryable(f"{path}: {reply.status_code}")
        except (_Retryable, httpx.TransportError) as exc:
            raise PlatformUnavailable(str(exc) or type(exc).__name__) from None
        if reply.status_code >= 400:
            raise PlatformRefused(f"{path}: {reply.status_code} {reply.text[:200]}")
        return reply.json()
