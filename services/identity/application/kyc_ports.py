"""Ports the KYC and OAuth use cases need, on top of identity's own (application/ports.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.kyc import KycCase
from services.identity.domain.oauth import OAuthProvider, ProviderIdentity


@dataclass(frozen=True)
class StoredStripeEvent:
    stripe_event_id: str
    event_type: str
    verification_session_id: str
    event_created_at: datetime
    verdict: str
    received_at: datetime


@dataclass(frozen=True)
class KycDocument:
    document_id: UUID
    user_id: UUID
    kind: str
    content_type: str
    size_bytes: int
    object_key: str
    uploaded_at: datetime


class KycRepository(Protocol):
    async def get(self, user_id: UUID, *, for_update: bool = False) -> KycCase | None: ...

    async def get_by_session(self, verification_session_id: str, *, for_update: bool = False) -> KycCase | None: ...

    async def add(self, case: KycCase) -> None: ...

    async def save(self, case: KycCase) -> None:
        """Persist a changed case (and users.kyc_status); ConcurrencyConflict if someone changed it first."""
        ...

    async def record_event(self, event: StoredStripeEvent) -> bool:
        """Store a Stripe event by id; False (nothing stored) when that id was stored before."""
        ...

    async def set_event_verdict(self, stripe_event_id: str, verdict: str) -> None: ...

    async def add_document(self, document: KycDocument) -> None: ...

    async def get_document(self, document_id: UUID) -> KycDocument | None: ...


class OAuthIdentityRepository(Protocol):
    async def user_for(self, provider: str, subject: str) -> UUID | None: ...

    async def link(self, provider: str, subject: str, user_id: UUID, email: str | None, at: datetime) -> None: ...

    async def touch(self, provider: str, subject: str, at: datetime) -> None: ...


class KycUnitOfWork(IdentityUnitOfWork, Protocol):
    kyc: KycRepository
    oauth_identities: OAuthIdentityRepository


@dataclass(frozen=True)
class VerificationSession:
    session_id: str
    status: str
    url: str | None


class IdentityVerifier(Protocol):
    """Stripe Identity (the official SDK in the adapter)."""

    async def create_session(
        self, *, user_id: UUID, return_url: str | None, idempotency_key: str
    ) -> VerificationSession: ...

    async def retrieve_session(self, session_id: str) -> VerificationSession: ...


class ObjectStorage(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...


class SealingCipher(Protocol):
    """Envelope encryption of bytes (libs/platform/crypto.EnvelopeCipher)."""

    def encrypt(self, plaintext: bytes, *, context: str) -> str: ...

    def decrypt(self, stored: str, *, context: str) -> bytes: ...


@dataclass(frozen=True)
class PendingAuthorization:
    """What StartOAuth keeps server-side for the callback: single use, short-lived."""

    provider: str
    redirect_uri: str
    nonce: str
    code_verifier: str


class OAuthStateStore(Protocol):
    async def put(self, state: str, pending: PendingAuthorization, ttl_seconds: int) -> None: ...

    async def take(self, state: str) -> PendingAuthorization | None:
        """Return and delete in one step (a replayed state finds nothing)."""
        ...


class OidcClient(Protocol):
    async def authorization_url(
        self, provider: OAuthProvider, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str: ...

    async def exchange_code(
        self, provider: OAuthProvider, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        """Exchange the code and verify the id_token (signature by the provider's JWKS, iss, aud, exp, nonce)."""
        ...
