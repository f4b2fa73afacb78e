"""Stripe Identity through the official SDK (stripe==16.1.0): VerificationSessions for KYC.

`base` None talks to api.stripe.com; the devstack and the tests give the Stripe stand-in's address. The SDK's
client is synchronous, so calls run in a worker thread. Its own network retries (which reuse the idempotency key,
so they are safe) cover connection failures; a Stripe error becomes UNAVAILABLE for the caller to retry later.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import stripe

from libs.domain.errors import FailedPrecondition
from services.identity.application.kyc_ports import VerificationSession


class StripeUnavailable(FailedPrecondition):
    """Stripe refused or could not be reached; nothing was stored, the caller may try again."""


class StripeIdentityVerifier:
    def __init__(
        self, api_key: str, *, base: str | None = None, max_network_retries: int = 2, timeout_seconds: float = 10.0
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base} if base else None,
            max_network_retries=max_network_retries,
            # The SDK waits 80 s by default; a user is waiting on this call, and a retry is safe (idempotency key).
            http_client=stripe.new_default_http_client(timeout=timeout_seconds),
        )

    async def create_session(
        self, *, user_id: UUID, return_url: str | None, idempotency_key: str
    ) -> VerificationSession:
        params: dict = {
            "type": "document",
            "client_reference_id": str(user_id),
            "metadata": {"user_id": str(user_id)},
            "options": {"document": {"require_matching_selfie": "true"}},
        }
        if return_url:
            params["return_url"] = return_url
        session = await self._call(
            self._client.v1.identity.verification_sessions.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _session(session)

    async def retrieve_session(self, session_id: str) -> VerificationSession:
        return _session(await self._call(self._client.v1.identity.verification_sessions.retrieve, session_id))

    async def _call(self, method, *args, **kwargs):
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except stripe.StripeError as exc:
            raise StripeUnavailable(
                f"Stripe Identity refused or failed: {exc.user_message or type(exc).__name__}",
                reason="STRIPE_UNAVAILABLE",
            ) from exc


def _session(session) -> VerificationSession:
    return VerificationSession(session_id=session.id, status=session.status, url=getattr(session, "url", None))
