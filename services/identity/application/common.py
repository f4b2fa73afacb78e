"""What several identity use cases share: the caller, the client, role checks, token digests, opening a session
and writing an audit record. Not a use case itself."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from libs.domain.audit import AuditEntry
from libs.domain.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from libs.domain.ids import new_uuid
from services.identity.application.ports import AccessTokenIssuer, IdentityUnitOfWork
from services.identity.domain.sessions import REFRESH_TOKEN_LIFETIME, Session
from services.identity.domain.user import Role, User

SYSTEM_ACTOR_ID = "system"


@dataclass(frozen=True)
class Actor:
    """The caller, as the gRPC layer learnt it (current_caller()): session_id and has_mfa from the verified token
    ("otp" in its amr). has_mfa defaults to False so a caller built without a token never passes for staff."""

    actor_id: str
    role: str
    ip: str | None = None
    session_id: str | None = None
    has_mfa: bool = False

    @property
    def user_id(self) -> UUID:
        try:
            return UUID(self.actor_id)
        except ValueError:
            raise Unauthenticated("sign in first", reason="UNAUTHENTICATED") from None

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.SUPPORT.value, Role.ADMIN.value)


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None
    country: str | None = None  # from the edge (CloudFront-Viewer-Country), if any


@dataclass(frozen=True)
class SessionTokens:
    session_id: UUID
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


@dataclass(frozen=True)
class LoginResult:
    """Either a session or an MFA challenge to complete."""

    session: SessionTokens | None
    mfa_token: str | None = None

    @property
    def mfa_required(self) -> bool:
        return self.session is None


def require_signed_in(actor: Actor) -> UUID:
    if actor.role not in {r.value for r in Role}:
        raise Unauthenticated("sign in first", reason="UNAUTHENTICATED")
    return actor.user_id


def _require_staff_mfa(actor: Actor) -> None:
    # Staff sign in with TOTP (issue 4); the gateway checks it too (ADR 0041), this is the second line (ADR 0040).
    if not actor.has_mfa:
        raise PermissionDenied("staff actions need a sign-in with TOTP", reason="MFA_REQUIRED")


def require_staff(actor: Actor) -> None:
    require_signed_in(actor)
    if not actor.is_staff:
        raise PermissionDenied("support or admin only", reason="PERMISSION_DENIED")
    _require_staff_mfa(actor)


def require_admin(actor: Actor) -> None:
    require_signed_in(actor)
    if actor.role != Role.ADMIN.value:
        raise PermissionDenied("admin only", reason="PERMISSION_DENIED")
    _require_staff_mfa(actor)


def require_self_or_staff(actor: Actor, user_id: UUID) -> None:
    if require_signed_in(actor) != user_id:
        if not actor.is_staff:
            raise PermissionDenied("only the user themselves or staff may see this", reason="PERMISSION_DENIED")
        _require_staff_mfa(actor)


def parse_user_id(raw: str, field: str = "user_id") -> UUID:
    try:
        return UUID((raw or "").strip())
    except ValueError:
        raise InvalidArgument("a user id (UUID) is required", field=field) from None


async def load_user(uow: IdentityUnitOfWork, user_id: UUID, *, for_update: bool = False) -> User:
    user = await uow.users.get(user_id, for_update=for_update)
    if user is None:
        raise NotFound(f"user {user_id} not found", reason="USER_NOT_FOUND")
    return user


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy token (refresh, MFA challenge, recovery code): no salt or slow hash needed when the
    input carries 128+ bits (recovery codes carry 50 and are also limited to a few attempts per challenge)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


async def open_session(
    uow: IdentityUnitOfWork,
    issuer: AccessTokenIssuer,
    user: User,
    *,
    amr: tuple[str, ...],
    mfa_at: datetime | None,
    client: ClientInfo,
    now: datetime,
) -> SessionTokens:
    session = Session(
        session_id=new_uuid(),
        user_id=user.user_id,
        amr=amr,
        mfa_at=mfa_at,
        ip=client.ip,
        user_agent=client.user_agent,
        created_at=now,
        expires_at=now + REFRESH_TOKEN_LIFETIME,
    )
    await uow.sessions.add(session)
    refresh = new_opaque_token()
    await uow.sessions.add_refresh_token(
        token_hash=digest(refresh),
        family_id=session.session_id,
        user_id=user.user_id,
        rotated_from=None,
        issued_at=now,
        expires_at=session.expires_at,
    )
    access = await issuer.issue(
        user_id=user.user_id, role=user.role, session_id=session.session_id, amr=amr, mfa_at=mfa_at, now=now
    )
    return SessionTokens(
        session_id=session.session_id,
        access_token=access.token,
        access_token_expires_at=access.expires_at,
        refresh_token=refresh,
        refresh_token_expires_at=session.expires_at,
    )


def audit_entry(
    *,
    at: datetime,
    actor_id: str,
    actor_role: str,
    ip: str | None,
    action: str,
    subject_id: str,
    before: Any = None,
    after: Any = None,
    subject_type: str = "user",
) -> AuditEntry:
    return AuditEntry(
        occurred_at=at,
        actor_id=actor_id,
        actor_role=actor_role,
        ip=ip,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
    )
