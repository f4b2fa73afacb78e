"""Ports the identity use cases need; adapters implement them structurally."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from libs.domain.audit import AuditEntry
from services.identity.domain.login_events import LoginEvent
from services.identity.domain.review_flags import ReviewFlag, ReviewFlagReason
from services.identity.domain.sessions import MfaChallenge, RefreshTokenState, Session
from services.identity.domain.signing_keys import SigningKey
from services.identity.domain.tax_profile import TaxProfile
from services.identity.domain.user import Role, User, UserStatus


@dataclass(frozen=True)
class TotpEnrolment:
    user_id: UUID
    secret_ciphertext: str
    confirmed_at: datetime | None
    last_used_step: int | None


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime


class UserRepository(Protocol):
    async def get(self, user_id: UUID, *, for_update: bool = False) -> User | None: ...

    async def get_by_email(self, email: str, *, for_update: bool = False) -> User | None: ...

    async def add(self, user: User, password_hash: str) -> None:
        """Insert a new user with its password; raises AlreadyExists when the email is taken (a racing twin)."""
        ...

    async def save(self, user: User) -> None:
        """Persist a changed user; raises ConcurrencyConflict if someone else changed it first."""
        ...

    async def password_hash(self, user_id: UUID) -> str | None: ...

    async def set_password_hash(self, user_id: UUID, password_hash: str, at: datetime) -> None: ...

    async def list(
        self,
        *,
        status: UserStatus | None,
        role: Role | None,
        email_contains: str | None,
        after_key: str | None,
        limit: int,
        flagged_for_review: bool = False,
    ) -> list[User]:
        """Ordered by (created_at, user_id); after_key is the last item's sort key. flagged_for_review keeps only
        users with an open review flag."""
        ...


class ReviewFlagRepository(Protocol):
    async def add(self, flag: ReviewFlag) -> bool:
        """Insert; False (nothing written) when the user already has a flag for this reason and source_ref."""
        ...

    async def get(self, flag_id: UUID, *, for_update: bool = False) -> ReviewFlag | None: ...

    async def find(
        self, user_id: UUID, reason: ReviewFlagReason, source_ref: str, *, for_update: bool = False
    ) -> ReviewFlag | None: ...

    async def for_user(self, user_id: UUID) -> list[ReviewFlag]:
        """Newest first, open and cleared."""
        ...

    async def users_with_open_flags(self, user_ids: list[UUID]) -> set[UUID]: ...

    async def save(self, flag: ReviewFlag) -> None:
        """Persist a changed flag; raises ConcurrencyConflict if someone else changed it first."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: UUID) -> Session | None: ...

    async def set_mfa(self, session_id: UUID, amr: tuple[str, ...], mfa_at: datetime) -> None: ...

    async def revoke(self, session_id: UUID, at: datetime, reason: str) -> bool:
        """Revoke one session and its refresh tokens; False when it was already revoked."""
        ...

    async def revoke_all_for_user(self, user_id: UUID, at: datetime, reason: str) -> list[UUID]:
        """Revoke every live session of a user; returns their ids."""
        ...

    async def add_refresh_token(
        self,
        *,
        token_hash: str,
        family_id: UUID,
        user_id: UUID,
        rotated_from: str | None,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None: ...

    async def get_refresh_token(self, token_hash: str) -> RefreshTokenState | None:
        """The token and its family's state, locked for this transaction (concurrent refreshes serialise)."""
        ...

    async def mark_rotated(self, token_hash: str, at: datetime) -> None: ...


class MfaRepository(Protocol):
    async def get_totp(self, user_id: UUID, *, for_update: bool = False) -> TotpEnrolment | None: ...

    async def put_pending_totp(self, user_id: UUID, secret_ciphertext: str, at: datetime) -> None: ...

    async def confirm_totp(self, user_id: UUID, at: datetime, step: int) -> None: ...

    async def remove_totp(self, user_id: UUID) -> None:
        """Forget the TOTP secret and the recovery codes."""
        ...

    async def record_totp_step(self, user_id: UUID, step: int) -> None: ...

    async def replace_recovery_codes(self, user_id: UUID, code_hashes: list[str], at: datetime) -> None: ...

    async def use_recovery_code(self, user_id: UUID, code_hash: str, at: datetime) -> bool:
        """Spend an unused recovery code; False when there is none with this hash."""
        ...

    async def add_challenge(self, challenge: MfaChallenge, created_at: datetime) -> None: ...

    async def get_challenge(self, token_hash: str) -> MfaChallenge | None:
        """Locked for this transaction."""
        ...

    async def consume_challenge(self, token_hash: str, at: datetime) -> None: ...

    async def count_challenge_failure(self, token_hash: str) -> None: ...


class SigningKeyRepository(Protocol):
    async def signing_at(self, now: datetime) -> SigningKey | None:
        """The key that signs at `now` (activated, not yet retired)."""
        ...

    async def newest(self) -> SigningKey | None:
        """The one key not scheduled to retire (active or waiting to activate), locked; None in a fresh database."""
        ...

    async def add(self, key: SigningKey) -> bool:
        """Make this key current; False (nothing stored) when another key is current already."""
        ...

    async def published(self, retired_since: datetime) -> list[SigningKey]:
        """The current key and those retired after `retired_since`, newest first."""
        ...

    async def retire(self, kid: str, at: datetime) -> None: ...


class LoginHistory(Protocol):
    async def record(self, event: LoginEvent) -> None: ...

    async def list(self, user_id: UUID, *, before_id: int | None, limit: int) -> list[LoginEvent]:
        """Newest first."""
        ...

    async def remember_device(self, user_id: UUID, device_hash: str, at: datetime) -> tuple[bool, bool]:
        """Record a device sign-in; returns (is_new_device, user_had_other_devices)."""
        ...


class IpAllowListRepository(Protocol):
    async def get(self, user_id: UUID) -> list[str]: ...

    async def replace(self, user_id: UUID, cidrs: list[str], at: datetime) -> None: ...


class TaxProfileRepository(Protocol):
    async def get(self, user_id: UUID) -> TaxProfile | None: ...

    async def put(self, profile: TaxProfile, tin_ciphertext: str) -> None: ...


class VerificationTokenLedger(Protocol):
    async def spend(self, token_id: str, user_id: UUID, at: datetime) -> bool:
        """Mark a verification token used; False when it had been used already."""
        ...


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> str: ...


class IdentityUnitOfWork(Protocol):
    users: UserRepository
    sessions: SessionRepository
    mfa: MfaRepository
    signing_keys: SigningKeyRepository
    login_history: LoginHistory
    allow_lists: IpAllowListRepository
    tax_profiles: TaxProfileRepository
    verification_tokens: VerificationTokenLedger
    review_flags: ReviewFlagRepository
    audit: AuditLog

    async def __aenter__(self) -> IdentityUnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def commit(self) -> None: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    async def verify_dummy(self, password: str) -> None:
        """Spend the same work as a real verify, for an unknown email (equal timing)."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessTokenIssuer(Protocol):
    async def issue(
        self,
        *,
        user_id: UUID,
        role: Role,
        session_id: UUID,
        amr: tuple[str, ...],
        mfa_at: datetime | None,
        now: datetime,
    ) -> IssuedAccessToken: ...

    def invalidate_cache(self) -> None:
        """Forget the cached current key (after a rotation in this process)."""
        ...


class SigningKeyFactory(Protocol):
    def new_key(self, at: datetime, activates_at: datetime) -> SigningKey: ...


class LinkTokens(Protocol):
    """Stateless signed tokens for emailed links (verify email)."""

    def sign(self, *, purpose: str, subject: str, token_id: str, expires_at: datetime) -> str: ...

    def open(self, token: str, *, purpose: str, now: datetime) -> tuple[str, str]:
        """(subject, token_id); raises InvalidArgument for a forged, malformed or expired token."""
        ...


class Revocations(Protocol):
    """Writes the Redis keys every token verifier checks (libs/platform/auth.py)."""

    async def revoke_session(self, session_id: UUID) -> None: ...

    async def revoke_user(self, user_id: UUID, *, before: datetime, reason: str) -> None: ...


class LoginThrottle(Protocol):
    async def retry_after(self, account_key: str, ip: str | None) -> int: ...

    async def record_failure(self, account_key: str, ip: str | None) -> None: ...

    async def clear_account(self, account_key: str) -> None: ...


class EmailSender(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class SecretCipher(Protocol):
    def encrypt_text(self, plaintext: str, *, context: str) -> str: ...

    def decrypt_text(self, stored: str, *, context: str) -> str: ...


class Geolocator(Protocol):
    def country(self, ip: str | None, edge_country: str | None) -> str | None: ...
