"""/v1/admin/users: staff tools over users. Support and admin read and review KYC; only admins change a user's
standing, role or IP allow-list. Both need a session signed in with TOTP. Identity checks the role again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.auth import Admin, Staff
from gateway.identity_models import (
    KYC_DECISIONS,
    ROLES,
    USER_STATUSES,
    KycCaseOut,
    KycDecisionName,
    LoginEventList,
    RoleName,
    UserOut,
    UserStatusName,
    code_of,
    kyc_case_out,
    login_event_out,
    timestamp_or_none,
    user_out,
)
from gateway.problems import problem
from gateway.routers.identity_calls import identity_rpc

router = APIRouter(prefix="/v1/admin/users", tags=["admin: users"])

UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
DocumentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
FlagId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
DOCUMENT_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
Reason = Annotated[str, Field(min_length=1, max_length=1000, description="Why; recorded in the audit log")]


class ReasonIn(BaseModel):
    reason: Reason


class RoleIn(BaseModel):
    role: RoleName
    reason: Reason


class IpAllowListIn(BaseModel):
    cidrs: list[Annotated[str, Field(min_length=3, max_length=64)]] = Field(
        max_length=100, description='CIDR ranges, e.g. "203.0.113.0/24"; empty clears the list'
    )


class IpAllowListOut(BaseModel):
    cidrs: list[str]


class AdminUserOut(UserOut):
    """A user as staff see them: with whether support should review them. Not on /v1/me: a trader is not told."""

    flagged_for_review: bool = False


class AdminUserList(BaseModel):
    users: list[AdminUserOut]
    next_page_token: str | None = None


class ReviewFlagOut(BaseModel):
    id: str
    reason: str = Field(description='Why the user was flagged, e.g. "chargeback"')
    source: str = Field(description='The service whose event raised it, e.g. "challenges"')
    source_ref: str = Field(description="What it is about there, e.g. the Stripe dispute id")
    evidence: dict[str, str] = Field(description="The facts that raised it (account, order, amount, outcome...)")
    status: Literal["open", "cleared"] | None
    raised_at: datetime | None
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_reason: str | None = None


class AdminUserDetail(AdminUserOut):
    review_flags: list[ReviewFlagOut] = Field(description="Open and cleared, newest first")


FLAG_STATUSES = {1: "open", 2: "cleared"}


def _admin_user(u) -> AdminUserOut:
    return AdminUserOut(**user_out(u).model_dump(), flagged_for_review=u.flagged_for_review)


def _flag_out(f) -> ReviewFlagOut:
    return ReviewFlagOut(
        id=f.flag_id,
        reason=f.reason,
        source=f.source,
        source_ref=f.source_ref,
        evidence=dict(f.evidence),
        status=FLAG_STATUSES.get(f.status),
        raised_at=timestamp_or_none(f.raised_at),
        cleared_at=timestamp_or_none(f.cleared_at),
        cleared_by=f.cleared_by or None,
        clear_reason=f.clear_reason or None,
    )


class KycReviewIn(BaseModel):
    decision: KycDecisionName
    notes: str = Field(min_length=1, max_length=4000)


def _pb():
    from dynasty.identity.v1 import identity_service_pb2 as pb

    return pb


@router.get("", response_model=AdminUserList, summary="Page through users (support, admin)")
async def list_users(
    request: Request,
    claims: Staff,
    status: Annotated[UserStatusName | None, Query()] = None,
    role: Annotated[RoleName | None, Query()] = None,
    email_contains: Annotated[str, Query(max_length=320)] = "",
    flagged_for_review: Annotated[bool, Query(description="Only users with an open review flag")] = False,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=512)] = "",
) -> AdminUserList:
    pb = _pb()
    message = pb.ListUsersRequest(
        status=code_of(USER_STATUSES, status) if status else 0,
        role=code_of(ROLES, role) if role else 0,
        email_contains=email_contains,
        flagged_for_review=flagged_for_review,
        page_size=page_size,
        page_token=page_token,
    )
    reply = await identity_rpc(request, "ListUsers", message, claims)
    return AdminUserList(users=[_admin_user(u) for u in reply.users], next_page_token=reply.next_page_token or None)


@router.get("/{user_id}", response_model=AdminUserDetail, summary="One user, with their review flags (support, admin)")
async def get_user(request: Request, claims: Staff, user_id: UserId) -> AdminUserDetail:
    reply = await identity_rpc(request, "GetUser", _pb().GetUserRequest(user_id=user_id), claims)
    return AdminUserDetail(
        **_admin_user(reply.user).model_dump(), review_flags=[_flag_out(f) for f in reply.review_flags]
    )


@router.post(
    "/{user_id}/review-flags/{flag_id}/clear",
    response_model=ReviewFlagOut,
    summary="Clear a review flag after looking into it, with a reason (support, admin; audited)",
)
async def clear_review_flag(
    request: Request, claims: Staff, user_id: UserId, flag_id: FlagId, body: ReasonIn
) -> ReviewFlagOut:
    message = _pb().ClearReviewFlagRequest(user_id=user_id, flag_id=flag_id, reason=body.reason)
    reply = await identity_rpc(request, "ClearReviewFlag", message, claims)
    return _flag_out(reply.flag)


@router.post("/{user_id}/suspend", response_model=UserOut, summary="Suspend: every session ends at once (admin)")
async def suspend_user(request: Request, claims: Admin, user_id: UserId, body: ReasonIn) -> UserOut:
    reply = await identity_rpc(
        request, "SuspendUser", _pb().SuspendUserRequest(user_id=user_id, reason=body.reason), claims
    )
    return user_out(reply.user)


@router.post("/{user_id}/reinstate", response_model=UserOut, summary="Lift a suspension (admin)")
async def reinstate_user(request: Request, claims: Admin, user_id: UserId, body: ReasonIn) -> UserOut:
    reply = await identity_rpc(
        request, "ReinstateUser", _pb().ReinstateUserRequest(user_id=user_id, reason=body.reason), claims
    )
    return user_out(reply.user)


@router.post("/{user_id}/terminate", response_model=UserOut, summary="Close an account for good (admin)")
async def terminate_user(request: Request, claims: Admin, user_id: UserId, body: ReasonIn) -> UserOut:
    reply = await identity_rpc(
        request, "TerminateUser", _pb().TerminateUserRequest(user_id=user_id, reason=body.reason), claims
    )
    return user_out(reply.user)


@router.put("/{user_id}/role", response_model=UserOut, summary="Set a user's role (admin)")
async def change_role(request: Request, claims: Admin, user_id: UserId, body: RoleIn) -> UserOut:
    pb = _pb()
    message = pb.ChangeRoleRequest(user_id=user_id, role=code_of(ROLES, body.role), reason=body.reason)
    reply = await identity_rpc(request, "ChangeRole", message, claims)
    return user_out(reply.user)


@router.put("/{user_id}/ip-allow-list", response_model=IpAllowListOut, summary="Where staff may sign in from (admin)")
async def set_ip_allow_list(request: Request, claims: Admin, user_id: UserId, body: IpAllowListIn) -> IpAllowListOut:
    reply = await identity_rpc(
        request, "SetIpAllowList", _pb().SetIpAllowListRequest(user_id=user_id, cidrs=body.cidrs), claims
    )
    return IpAllowListOut(cidrs=list(reply.cidrs))


@router.get("/{user_id}/kyc", response_model=KycCaseOut, summary="A user's KYC case (support, admin)")
async def get_user_kyc(request: Request, claims: Staff, user_id: UserId) -> KycCaseOut:
    reply = await identity_rpc(request, "GetKyc", _pb().GetKycRequest(user_id=user_id), claims)
    return kyc_case_out(reply.kyc_case)


@router.post("/{user_id}/kyc/review", response_model=KycCaseOut, summary="Decide a KYC case (support, admin)")
async def review_kyc(request: Request, claims: Staff, user_id: UserId, body: KycReviewIn) -> KycCaseOut:
    pb = _pb()
    message = pb.ReviewKycRequest(user_id=user_id, decision=code_of(KYC_DECISIONS, body.decision), notes=body.notes)
    reply = await identity_rpc(request, "ReviewKyc", message, claims)
    return kyc_case_out(reply.kyc_case)


@router.get(
    "/{user_id}/kyc/documents/{document_id}",
    response_class=Response,
    summary="A user's KYC document, decrypted (support, admin; audited)",
    responses={
        200: {
            "description": "The document's bytes, in the media type it was uploaded with",
            "content": {media: {} for media in DOCUMENT_EXTENSIONS},
        },
        404: {"description": "No such document, or not this user's"},
    },
)
async def get_user_kyc_document(request: Request, claims: Staff, user_id: UserId, document_id: DocumentId):
    reply = await identity_rpc(request, "GetKycDocument", _pb().GetKycDocumentRequest(document_id=document_id), claims)
    document = reply.document
    if document.user_id.lower() != user_id.lower():
        # Identity finds documents by id alone; a URL naming another user must not serve this one.
        return problem(
            404,
            f"user {user_id} has no document {document_id}",
            reason="KYC_DOCUMENT_NOT_FOUND",
            instance=request.url.path,
        )
    extension = DOCUMENT_EXTENSIONS.get(document.content_type, "bin")
    return Response(
        content=reply.content,
        media_type=document.content_type,
        headers={
            # Personal data: no browser or proxy keeps a copy, and the browser never guesses another type.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{document.kind}-{document.document_id}.{extension}"',
        },
    )


@router.get("/{user_id}/logins", response_model=LoginEventList, summary="A user's login history (support, admin)")
async def user_logins(
    request: Request,
    claims: Staff,
    user_id: UserId,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=512)] = "",
) -> LoginEventList:
    pb = _pb()
    message = pb.ListLoginEventsRequest(user_id=user_id, page_size=page_size, page_token=page_token)
    reply = await identity_rpc(request, "ListLoginEvents", message, claims)
    return LoginEventList(
        events=[login_event_out(e) for e in reply.events], next_page_token=reply.next_page_token or None
    )
