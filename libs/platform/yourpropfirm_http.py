"""The one way our services call YourPropFirm's client API: httpx with `X-Client-Key`, and POSTs retried by
tenacity under the same `Idempotency-Key`, so a retry after a timeout, a 429 or a 5xx never acts twice.

Each service's adapter (challenges provisioning, rules enforcement) builds on this and turns answers into its own
domain errors; the wire contract is docs/integrations.md, "YourPropFirm".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter


class YourPropFirmCallFailed(Exception):
    """Every attempt of one call failed with a transport error, a 429 or a 5xx: try the whole job later."""


class _Retryable(Exception):
    pass


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


class YourPropFirmHttp:
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

    async def post(self, path: str, payload: dict[str, Any], *, idempotency_key: str) -> httpx.Response:
        """The answer to the first attempt that was not a 429 or 5xx (any other status is the caller's to judge)."""
        headers = {"Idempotency-Key": idempotency_key}
        return await self._retried(path, lambda: self._http.post(path, json=payload, headers=headers))

    async def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        """A read, retried the same way (reads are idempotent by nature)."""
        return await self._retried(path, lambda: self._http.get(path, params=params))

    async def _retried(self, path: str, call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_retryable),
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential_jitter(multiplier=self._backoff, max=2.0),
                reraise=True,
            ):
                with attempt:
                    response = await call()
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(f"{path} answered {response.status_code}")
                    return response
        except (_Retryable, httpx.TransportError) as exc:
            raise YourPropFirmCallFailed(f"YourPropFirm {path} kept failing: {exc or type(exc).__name__}") from exc
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} for anything else (an empty or non-JSON body)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
