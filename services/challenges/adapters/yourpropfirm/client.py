"""YourPropFirm's client API over httpx, with tenacity retries that resend the same Idempotency-Key.

Wire contract (docs/integrations.md, "YourPropFirm"): `X-Client-Key` authenticates us; POST /client/v1/users creates
the trader (201 {id}; 409 {userId} when the email is already registered, e.g. their second challenge), and
POST /client/v1/users/{userId}/accounts {programId} opens a trading account (201 with id, login, password and
startingBalance). Both honour `Idempotency-Key`, so a retry after a timeout or a 5xx, or a whole job retried after a
crash, gets the first answer back instead of a second user or account.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import httpx

from libs.domain.money import Money
from libs.platform.yourpropfirm_http import YourPropFirmCallFailed, YourPropFirmHttp, json_object
from services.challenges.application.ports import PlatformCredentials, PlatformUnavailable

log = logging.getLogger(__name__)


class YourPropFirmClient:
    def __init__(
        self,
        base_url: str,
        client_key: str,
        *,
        timeout_seconds: float = 5.0,
        attempts: int = 4,
        backoff_seconds: float = 0.2,
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

    async def open_account(
        self,
        *,
        account_id: UUID,
        order_id: UUID,
        email: str,
        program_id: str,
        account_size: Money,
        idempotency_prefix: str,
    ) -> PlatformCredentials:
        user_id = await self._create_user(email, idempotency_key=f"{idempotency_prefix}:user")
        body = await self._post(
            f"/client/v1/users/{user_id}/accounts",
            {"programId": program_id, "InvoiceId": str(order_id), "ProductId": program_id},
            idempotency_key=f"{idempotency_prefix}:account",
        )
        try:
            credentials = PlatformCredentials(
                user_id=user_id, account_id=str(body["id"]), login=str(body["login"]), password=str(body["password"])
            )
            opened = Decimal(str(body["startingBalance"]))
        except (KeyError, InvalidOperation) as exc:
            raise PlatformUnavailable(f"YourPropFirm's account answer lacks a valid {exc}") from None
        if opened != account_size.amount:
            # The platform's program is configured with another size than the rule set we judge by: refuse to
            # activate (the job keeps failing visibly, see the runbook) rather than judge the trader wrongly.
            raise PlatformUnavailable(
                f"YourPropFirm opened {program_id} with {opened}, but the account's rule set starts at "
                f"{account_size.amount}; fix the platform's program configuration"
            )
        return credentials

    async def reset_account(
        self, platform_account_id: str, *, reason: str, idempotency_key: str, starting_balance: Decimal | None = None
    ) -> int:
        payload: dict[str, Any] = {"reason": reason}
        if starting_balance is not None:
            # A decimal string, exact (never a JSON number, which the platform could read as a float).
            payload["startingBalance"] = f"{starting_balance:f}"
        body = await self._post(
            f"/client/v1/accounts/{platform_account_id}/reset", payload, idempotency_key=idempotency_key
        )
        try:
            return int(body["account"]["attempt"])
        except (KeyError, TypeError, ValueError):
            raise PlatformUnavailable("YourPropFirm's reset answer lacks account.attempt") from None

    async def _create_user(self, email: str, *, idempotency_key: str) -> str:
        # The platform requires names; identity holds none yet, so the email's local part stands in.
        local = email.split("@", 1)[0][:60] or "trader"
        try:
            body = await self._post(
                "/client/v1/users",
                {"email": email, "firstname": local, "lastname": "Dynasty Trader"},
                idempotency_key=idempotency_key,
            )
        except _Conflict as conflict:
            # Registered before (their earlier challenge): the platform names the existing user.
            existing = conflict.body.get("userId") or conflict.body.get("id")
            if not existing:
                raise PlatformUnavailable(f"YourPropFirm already has {email} and did not say which user") from None
            return str(existing)
        return str(body["id"])

    async def _post(self, path: str, payload: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        try:
            response = await self._http.post(path, payload, idempotency_key=idempotency_key)
        except YourPropFirmCallFailed as exc:
            raise PlatformUnavailable(str(exc)) from exc
        if response.status_code == 409:
            raise _Conflict(json_object(response))
        if response.status_code not in (200, 201):
            raise PlatformUnavailable(f"{path} refused: {response.status_code} {response.text[:200]}")
        return json_object(response)


class _Conflict(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("conflict")
        self.body = body
