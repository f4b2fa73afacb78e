"""Proto <-> use-case values for the identity service. Only translation; no decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from dynasty.identity.v1 import identity_service_pb2 as pb
from libs.platform.grpc_errors import current_caller
from services.identity.application.common import Actor, ClientInfo, SessionTokens
from services.identity.application.kyc_ports import KycDocument
from services.identity.domain.kyc import KycCase, ReviewDecision
from services.identity.domain.login_events import LoginEvent
from services.identity.domain.review_flags import ReviewFlag, ReviewFlagStatus
from services.identity.domain.tax_profile import TaxForm, TaxProfile
from services.identity.domain.user import KycStatus, Role, User, UserStatus

ROLE_TO_PB = {Role.TRADER: pb.ROLE_TRADER, Role.SUPPORT: pb.ROLE_SUPPORT, Role.ADMIN: pb.ROLE_ADMIN}
ROLE_FROM_PB = {v: k for k, v in ROLE_TO_PB.items()}
STATUS_TO_PB = {
    UserStatus.PENDING_VERIFICATION: pb.USER_STATUS_PENDING_VERIFICATION,
    UserStatus.ACTIVE: pb.USER_STATUS_ACTIVE,
    UserStatus.SUSPENDED: pb.USER_STATUS_SUSPENDED,
    UserStatus.TERMINATED: pb.USER_STATUS_TERMINATED,
}
STATUS_FROM_PB = {v: k for k, v in STATUS_TO_PB.items()}
KYC_TO_PB = {
    KycStatus.NOT_STARTED: pb.KYC_STATUS_NOT_STARTED,
    KycStatus.PENDING: pb.KYC_STATUS_PENDING,
    KycStatus.APPROVED: pb.KYC_STATUS_APPROVED,
    KycStatus.REJECTED: pb.KYC_STATUS_REJECTED,
    KycStatus.NEEDS_REVIEW: pb.KYC_STATUS_NEEDS_REVIEW,
}
DECISION_FROM_PB = {
    pb.KYC_DECISION_APPROVE: ReviewDecision.APPROVE,
    pb.KYC_DECISION_REJECT: ReviewDecision.REJECT,
    pb.KYC_DECISION_NEEDS_REVIEW: ReviewDecision.NEEDS_REVIEW,
}
FORM_TO_PB = {TaxForm.W9: pb.TAX_FORM_W9, TaxForm.W8BEN: pb.TAX_FORM_W8BEN}
FORM_FROM_PB = {v: k for k, v in FORM_TO_PB.items()}


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def actor() -> Actor:
    caller = current_caller()
    claims = getattr(caller, "claims", None)  # the verified access token, when the caller sent one
    return Actor(
        actor_id=caller.actor_id,
        role=caller.role,
        ip=caller.ip,
        session_id=claims.session_id if claims else None,
        has_mfa=bool(claims and claims.has_mfa),
    )


def client_from_pb(client: pb.ClientContext) -> ClientInfo:
    caller = current_caller()
    return ClientInfo(
        ip=client.ip or caller.ip or None,
        user_agent=client.user_agent or None,
        country=client.country or None,
    )


def user_to_pb(user: User, *, flagged_for_review: bool = False) -> pb.User:
    return pb.User(
        flagged_for_review=flagged_for_review,
        user_id=str(user.user_id),
        email=user.email,
        email_verified=user.email_verified,
        role=ROLE_TO_PB[user.role],
        status=STATUS_TO_PB[user.status],
        mfa_enabled=user.mfa_enabled,
        kyc_status=KYC_TO_PB[user.kyc_status],
        created_at=timestamp(user.created_at),
        status_reason=user.status_reason,
    )


FLAG_STATUS_TO_PB = {
    ReviewFlagStatus.OPEN: pb.REVIEW_FLAG_STATUS_OPEN,
    ReviewFlagStatus.CLEARED: pb.REVIEW_FLAG_STATUS_CLEARED,
}


def review_flag_to_pb(flag: ReviewFlag) -> pb.ReviewFlag:
    return pb.ReviewFlag(
        flag_id=str(flag.flag_id),
        user_id=str(flag.user_id),
        reason=flag.reason.value,
        source=flag.source,
        source_ref=flag.source_ref,
        evidence={str(k): str(v) for k, v in flag.evidence.items()},
        status=FLAG_STATUS_TO_PB[flag.status],
        raised_at=timestamp(flag.raised_at),
        cleared_at=timestamp(flag.cleared_at),
        cleared_by=flag.cleared_by or "",
        clear_reason=flag.clear_reason or "",
    )


def session_to_pb(tokens: SessionTokens) -> pb.Session:
    return pb.Session(
        access_token=tokens.access_token,
        access_token_expires_at=timestamp(tokens.access_token_expires_at),
        refresh_token=tokens.refresh_token,
        refresh_token_expires_at=timestamp(tokens.refresh_token_expires_at),
        token_type="Bearer",
    )


def login_event_to_pb(event: LoginEvent) -> pb.LoginEvent:
    return pb.LoginEvent(
        at=timestamp(event.occurred_at),
        ip=event.ip or "",
        user_agent=event.user_agent or "",
        country=event.country or "",
        succeeded=event.succeeded,
        outcome=event.outcome.value,
        new_device=event.new_device,
    )


def tax_profile_to_pb(profile: TaxProfile) -> pb.TaxProfile:
    return pb.TaxProfile(
        form=FORM_TO_PB[profile.form],
        legal_name=profile.legal_name,
        tin_masked=profile.tin_masked,
        country=profile.country,
        address=profile.address,
        updated_at=timestamp(profile.updated_at),
    )


def datetime_or_none(message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC)


def kyc_case_to_pb(case: KycCase) -> pb.KycCase:
    return pb.KycCase(
        user_id=str(case.user_id),
        status=KYC_TO_PB[case.status],
        verification_session_id=case.verification_session_id or "",
        notes=[note.text for note in case.notes],
        updated_at=timestamp(case.updated_at),
    )


def kyc_document_to_pb(document: KycDocument) -> pb.KycDocument:
    """The description only: where the sealed object lies (object_key) stays inside identity."""
    return pb.KycDocument(
        document_id=str(document.document_id),
        user_id=str(document.user_id),
        kind=document.kind,
        content_type=document.content_type,
        size_bytes=document.size_bytes,
        uploaded_at=timestamp(document.uploaded_at),
    )
