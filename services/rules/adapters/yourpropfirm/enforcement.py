"""YourPropFirm enforcement over httpx: flatten and disable, each retried with tenacity under the same
Idempotency-Key, so a retry (or the whole job retried after a crash) never acts twice (docs/integrations.md,
"Enforcement commands")."""

from __future__ import annotations

import httpx

from libs.platform.yourpropfirm_http import YourPropFirmCallFailed, YourPropFirmHttp, json_object


class PlatformUnavailable(Exception):
    """The platform did not carry the command out this time; the job is retried later under the same key."""


class PlatformRefused(Exception):
    """A 4xx: the platform will never carry this command out (an unknown account); retrying cannot help."""


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
        self._http = YourPropFirmHttp(
            base_url,
            client_key,
            timeout_seconds=timeout_seconds,
            attempts=attempts,
            backoff_seconds=backoff_seconds,
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.close()

    async def flatten(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return await self._post(f"/client/v1/accounts/{platform_account_id}/flatten", idempotency_key, reason)

    async def disable(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return await self._post(f"/client/v1/accounts/{platform_account_id}/disable", idempotency_key, reason)

    async def enable(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return await self._post(f"/client/v1/accounts/{platform_account_id}/enable", idempotency_key, reason)

    async def _post(self, path: str, key: str, reason: str) -> dict:
        try:
            reply = await self._http.post(path, {"reason": reason}, idempotency_key=key)
        except YourPropFirmCallFailed as exc:
            raise PlatformUnavailable(str(exc)) from None
        if reply.status_code >= 400:
            raise PlatformRefused(f"{path}: {reply.status_code} {reply.text[:200]}")
        return json_object(reply)
