"""The REST shapes of identity's messages (pydantic, so OpenAPI documents them) and their mapping to and from proto."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

RoleName = Literal["trader", "support", "admin"]
UserStatusName = Literal["pending_verification", "active", "suspended", "terminated"]
KycStatusName = Literal["not_started", "pending", "approved", "rejected", "needs_review"]
KycDecisionName = Literal["approve", "reject", "needs_review"]
TaxFormName = Literal["w9", "w8ben"]
KycDocumentKind = Literal["id_document", "proof_of_address", "selfie", "other"]

ROLES: dict[int, str] = {1: "trader", 2: "support", 3: "admin"}
USER_STATUSES: dict[int, str] = {1: "pending_verification", 2: "active", 3: "suspended", 4: "terminated"}
KYC_STATUSES: dict[int, str] = {1: "not_started", 2: "pending", 3: "approved", 4: "rejected", 5: "needs_review"}
KYC_DECISIONS: dict[int, str] = {1: "approve", 2: "reject", 3: "needs_review"}
TAX_FORMS: dict[int, str] = {1: "w9", 2: "w8ben"}


def code_of(table: dict[int, str], name: str) -> int:
    return next(code for code, n in table.items() if n == name)


def timestamp_or_none(ts) -> datetime | None:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=UTC)


class SessionOut(BaseModel):
    access_token: str
    access_token_expires_at: datetime | None
    refresh_token: str
    refresh_token_expires_at: datetime | None
    token_type: str = "Bearer"


class SignInOut(BaseModel):
    """A session, or an MFA challenge: send `mfa_token` and a code to /v1/auth/login/mfa."""

    session: SessionOut | None = None
    mfa_required: bool = False
    mfa_token: str | None = None
    created: bool | None = Field(default=None, description="OAuth only: this sign-in created the account")


class UserOut(BaseModel):
    id: str
    email: str
    email_verified: bool
    role: RoleName | None
    status: UserStatusName | None
    mfa_enabled: bool
    kyc_status: KycStatusName | None
    created_at: datetime | None
    status_reason: str | None = None


class UserList(BaseModel):
    users: list[UserOut]
    next_page_token: str | None = None


class LoginEventOut(BaseModel):
    at: datetime | None
    ip: str
    user_agent: str
    country: str | None
    succeeded: bool
    outcome: str
    new_device: bool


class LoginEventList(BaseModel):
    events: list[LoginEventOut]
    next_page_token: str | None = None


class KycCaseOut(BaseModel):
    user_id: str
    status: KycStatusName | None
    verification_session_id: str | None
    notes: list[str]
    updated_at: datetime | None


class KycSessionOut(BaseModel):
    verification_url: str
    kyc_case: KycCaseOut


class KycDocumentOut(BaseModel):
    """A stored KYC document's description; the bytes are only ever served to staff, by the admin route."""

    id: str
    user_id: str
    kind: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime | None


class TaxProfileOut(BaseModel):
    form: TaxFormName | None
    legal_name: str
    tin_masked: str
    country: str
    address: str
    updated_at: datetime | None


def session_out(s) -> SessionOut:
    return SessionOut(
        access_token=s.access_token,
        access_token_expires_at=timestamp_or_none(s.access_token_expires_at),
        refresh_token=s.refresh_token,
        refresh_token_expires_at=timestamp_or_none(s.refresh_token_expires_at),
        token_type=s.token_type or "Bearer",
    )


def sign_in_out(reply, *, created: bool | None = None) -> SignInOut:
    has_session = reply.HasField("session") and bool(reply.session.access_token)
    return SignInOut(
        session=session_out(reply.session) if has_session else None,
        mfa_required=reply.mfa_required,
        mfa_token=reply.mfa_token or None,
        created=created,
    )


def user_out(u) -> UserOut:
    return UserOut(
        id=u.user_id,
        email=u.email,
        email_verified=u.email_verified,
        role=ROLES.get(u.role),
        status=USER_STATUSES.get(u.status),
        mfa_enabled=u.mfa_enabled,
        kyc_status=KYC_STATUSES.get(u.kyc_status),
        created_at=timestamp_or_none(u.created_at),
        status_reason=u.status_reason or None,
    )


def login_event_out(e) -> LoginEventOut:
    return LoginEventOut(
        at=timestamp_or_none(e.at),
        ip=e.ip,
        user_agent=e.user_agent,
        country=e.country or None,
        succeeded=e.succeeded,
        outcome=e.outcome,
        new_device=e.new_device,
    )


def kyc_case_out(k) -> KycCaseOut:
    return KycCaseOut(
        user_id=k.user_id,
        status=KYC_STATUSES.get(k.status),
        verification_session_id=k.verification_session_id or None,
        notes=list(k.notes),
        updated_at=timestamp_or_none(k.updated_at),
    )


def tax_profile_out(t) -> TaxProfileOut:
    return TaxProfileOut(
        form=TAX_FORMS.get(t.form),
        legal_name=t.legal_name,
        tin_masked=t.tin_masked,
        country=t.country,
        address=t.address,
        updated_at=timestamp_or_none(t.updated_at),
    )


def kyc_document_out(d) -> KycDocumentOut:
    return KycDocumentOut(
        id=d.document_id,
        user_id=d.user_id,
        kind=d.kind,
        content_type=d.content_type,
        size_bytes=d.size_bytes,
        uploaded_at=timestamp_or_none(d.uploaded_at),
    )
