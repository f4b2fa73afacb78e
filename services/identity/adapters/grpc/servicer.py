"""dynasty.identity.v1.IdentityService: translate, call the use case, translate back.

Throttling (TooManyAttempts) carries ErrorInfo.metadata["retry_after_seconds"], which the shared interceptor turns
into RESOURCE_EXHAUSTED. The caller is the verified bearer token's subject (current_caller()).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dynasty.identity.v1 import identity_service_pb2 as pb
from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc
from libs.platform.paging import decode_page_token, encode_page_token
from services.identity.adapters.grpc import mapping as m
from services.identity.application.apply_kyc_verification_event import ApplyKycVerificationEvent
from services.identity.application.change_role import ChangeRole
from services.identity.application.clear_review_flag import ClearReviewFlag
from services.identity.application.complete_mfa_login import CompleteMfaLogin
from services.identity.application.complete_oauth import CompleteOAuth
from services.identity.application.confirm_totp import ConfirmTotp
from services.identity.application.create_kyc_session import CreateKycSession
from services.identity.application.enroll_totp import EnrollTotp
from services.identity.application.get_jwks import JWKS_MAX_AGE_SECONDS
from services.identity.application.get_kyc import GetKyc
from services.identity.application.get_me import GetMe
from services.identity.application.get_tax_profile import GetTaxProfile
from services.identity.application.get_user import GetUser
from services.identity.application.list_login_events import ListLoginEvents
from services.identity.application.list_users import ListUsers
from services.identity.application.login import Login
from services.identity.application.logout import Logout
from services.identity.application.logout_everywhere import LogoutEverywhere
from services.identity.application.read_kyc_document import ReadKycDocument
from services.identity.application.refresh_session import RefreshSession
from services.identity.application.register import Register
from services.identity.application.review_kyc import ReviewKyc
from services.identity.application.set_ip_allow_list import SetIpAllowList
from services.identity.application.set_tax_profile import SetTaxProfile
from services.identity.application.start_oauth import StartOAuth
from services.identity.application.step_up import StepUp
from services.identity.application.suspend_user import SuspendUser
from services.identity.application.upload_kyc_document import UploadKycDocument
from services.identity.application.verify_email import VerifyEmail

Handler = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class IdentityUseCases:
    register: Handler
    verify_email: Handler
    login: Handler
    complete_mfa_login: Handler
    refresh_session: Handler
    logout: Handler
    logout_everywhere: Handler
    get_jwks: Callable[[], Awaitable[dict]]
    enroll_totp: Handler
    confirm_totp: Handler
    step_up: Handler
    get_me: Handler
    list_login_events: Handler
    set_tax_profile: Handler
    get_tax_profile: Handler
    list_users: Handler
    get_user: Handler
    suspend_user: Handler
    reinstate_user: Handler
    terminate_user: Handler
    change_role: Handler
    set_ip_allow_list: Handler
    start_oauth: Handler
    complete_oauth: Handler
    create_kyc_session: Handler
    get_kyc: Handler
    apply_kyc_verification_event: Handler
    review_kyc: Handler
    upload_kyc_document: Handler
    read_kyc_document: Handler
    clear_review_flag: Handler


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(self, use_cases: IdentityUseCases) -> None:
        self._uc = use_cases

    async def Register(self, request: pb.RegisterRequest, context) -> pb.RegisterResponse:
        message = await self._uc.register(
            Register(email=request.email, password=request.password, client=m.client_from_pb(request.client))
        )
        return pb.RegisterResponse(message=message)

    async def VerifyEmail(self, request: pb.VerifyEmailRequest, context) -> pb.VerifyEmailResponse:
        user = await self._uc.verify_email(VerifyEmail(token=request.token, ip=m.actor().ip))
        return pb.VerifyEmailResponse(user=m.user_to_pb(user))

    async def Login(self, request: pb.LoginRequest, context) -> pb.LoginResponse:
        result = await self._uc.login(
            Login(email=request.email, password=request.password, client=m.client_from_pb(request.client))
        )
        if result.mfa_required:
            return pb.LoginResponse(mfa_required=True, mfa_token=result.mfa_token)
        return pb.LoginResponse(session=m.session_to_pb(result.session))

    async def CompleteMfaLogin(self, request: pb.CompleteMfaLoginRequest, context) -> pb.CompleteMfaLoginResponse:
        tokens = await self._uc.complete_mfa_login(
            CompleteMfaLogin(
                mfa_token=request.mfa_token,
                totp_code=request.totp_code,
                recovery_code=request.recovery_code,
                client=m.client_from_pb(request.client),
            )
        )
        return pb.CompleteMfaLoginResponse(session=m.session_to_pb(tokens))

    async def RefreshSession(self, request: pb.RefreshSessionRequest, context) -> pb.RefreshSessionResponse:
        tokens = await self._uc.refresh_session(
            RefreshSession(refresh_token=request.refresh_token, client=m.client_from_pb(request.client))
        )
        return pb.RefreshSessionResponse(session=m.session_to_pb(tokens))

    async def Logout(self, request: pb.LogoutRequest, context) -> pb.LogoutResponse:
        await self._uc.logout(Logout(actor=m.actor(), refresh_token=request.refresh_token))
        return pb.LogoutResponse()

    async def LogoutEverywhere(self, request: pb.LogoutEverywhereRequest, context) -> pb.LogoutEverywhereResponse:
        count = await self._uc.logout_everywhere(LogoutEverywhere(actor=m.actor()))
        return pb.LogoutEverywhereResponse(sessions_revoked=count)

    async def GetJwks(self, request: pb.GetJwksRequest, context) -> pb.GetJwksResponse:
        jwks = await self._uc.get_jwks()
        return pb.GetJwksResponse(jwks_json=json.dumps(jwks), max_age_seconds=JWKS_MAX_AGE_SECONDS)

    async def EnrollTotp(self, request: pb.EnrollTotpRequest, context) -> pb.EnrollTotpResponse:
        provisioning = await self._uc.enroll_totp(EnrollTotp(actor=m.actor()))
        return pb.EnrollTotpResponse(provisioning_uri=provisioning.provisioning_uri, secret=provisioning.secret)

    async def ConfirmTotp(self, request: pb.ConfirmTotpRequest, context) -> pb.ConfirmTotpResponse:
        codes = await self._uc.confirm_totp(ConfirmTotp(actor=m.actor(), totp_code=request.totp_code))
        return pb.ConfirmTotpResponse(recovery_codes=codes)

    async def StepUp(self, request: pb.StepUpRequest, context) -> pb.StepUpResponse:
        token = await self._uc.step_up(StepUp(actor=m.actor(), totp_code=request.totp_code))
        return pb.StepUpResponse(access_token=token.token, access_token_expires_at=m.timestamp(token.expires_at))

    async def GetMe(self, request: pb.GetMeRequest, context) -> pb.GetMeResponse:
        return pb.GetMeResponse(user=m.user_to_pb(await self._uc.get_me(GetMe(actor=m.actor()))))

    async def ListLoginEvents(self, request: pb.ListLoginEventsRequest, context) -> pb.ListLoginEventsResponse:
        before = decode_page_token(request.page_token)
        page = await self._uc.list_login_events(
            ListLoginEvents(
                actor=m.actor(),
                user_id=request.user_id,
                page_size=request.page_size,
                before_id=int(before) if before and before.isdigit() else None,
            )
        )
        return pb.ListLoginEventsResponse(
            events=[m.login_event_to_pb(e) for e in page.events],
            next_page_token=encode_page_token(str(page.next_before_id) if page.next_before_id else None),
        )

    async def SetTaxProfile(self, request: pb.SetTaxProfileRequest, context) -> pb.SetTaxProfileResponse:
        profile = await self._uc.set_tax_profile(
            SetTaxProfile(
                actor=m.actor(),
                form=m.FORM_FROM_PB.get(request.form),
                legal_name=request.legal_name,
                tin=request.tin,
                country=request.country,
                address=request.address,
            )
        )
        return pb.SetTaxProfileResponse(tax_profile=m.tax_profile_to_pb(profile))

    async def GetTaxProfile(self, request: pb.GetTaxProfileRequest, context) -> pb.GetTaxProfileResponse:
        profile = await self._uc.get_tax_profile(GetTaxProfile(actor=m.actor()))
        return pb.GetTaxProfileResponse(tax_profile=m.tax_profile_to_pb(profile))

    async def ListUsers(self, request: pb.ListUsersRequest, context) -> pb.ListUsersResponse:
        page = await self._uc.list_users(
            ListUsers(
                actor=m.actor(),
                status=m.STATUS_FROM_PB.get(request.status),
                role=m.ROLE_FROM_PB.get(request.role),
                email_contains=request.email_contains or None,
                page_size=request.page_size,
                after_key=decode_page_token(request.page_token),
                flagged_for_review=request.flagged_for_review,
            )
        )
        return pb.ListUsersResponse(
            users=[m.user_to_pb(u, flagged_for_review=u.user_id in page.flagged) for u in page.users],
            next_page_token=encode_page_token(page.next_after_key),
        )

    async def GetUser(self, request: pb.GetUserRequest, context) -> pb.GetUserResponse:
        detail = await self._uc.get_user(GetUser(actor=m.actor(), user_id=request.user_id))
        return pb.GetUserResponse(
            user=m.user_to_pb(detail.user, flagged_for_review=detail.flagged_for_review),
            review_flags=[m.review_flag_to_pb(f) for f in detail.review_flags],
        )

    async def ClearReviewFlag(self, request: pb.ClearReviewFlagRequest, context) -> pb.ClearReviewFlagResponse:
        flag = await self._uc.clear_review_flag(
            ClearReviewFlag(actor=m.actor(), user_id=request.user_id, flag_id=request.flag_id, reason=request.reason)
        )
        return pb.ClearReviewFlagResponse(flag=m.review_flag_to_pb(flag))

    async def SuspendUser(self, request: pb.SuspendUserRequest, context) -> pb.SuspendUserResponse:
        user = await self._uc.suspend_user(SuspendUser(actor=m.actor(), user_id=request.user_id, reason=request.reason))
        return pb.SuspendUserResponse(user=m.user_to_pb(user))

    async def ReinstateUser(self, request: pb.ReinstateUserRequest, context) -> pb.ReinstateUserResponse:
        user = await self._uc.reinstate_user(
            SuspendUser(actor=m.actor(), user_id=request.user_id, reason=request.reason)
        )
        return pb.ReinstateUserResponse(user=m.user_to_pb(user))

    async def TerminateUser(self, request: pb.TerminateUserRequest, context) -> pb.TerminateUserResponse:
        user = await self._uc.terminate_user(
            SuspendUser(actor=m.actor(), user_id=request.user_id, reason=request.reason)
        )
        return pb.TerminateUserResponse(user=m.user_to_pb(user))

    async def ChangeRole(self, request: pb.ChangeRoleRequest, context) -> pb.ChangeRoleResponse:
        user = await self._uc.change_role(
            ChangeRole(
                actor=m.actor(), user_id=request.user_id, role=m.ROLE_FROM_PB.get(request.role), reason=request.reason
            )
        )
        return pb.ChangeRoleResponse(user=m.user_to_pb(user))

    async def SetIpAllowList(self, request: pb.SetIpAllowListRequest, context) -> pb.SetIpAllowListResponse:
        cidrs = await self._uc.set_ip_allow_list(
            SetIpAllowList(actor=m.actor(), user_id=request.user_id, cidrs=list(request.cidrs))
        )
        return pb.SetIpAllowListResponse(cidrs=cidrs)

    async def StartOAuth(self, request: pb.StartOAuthRequest, context) -> pb.StartOAuthResponse:
        start = await self._uc.start_oauth(StartOAuth(provider=request.provider, redirect_uri=request.redirect_uri))
        return pb.StartOAuthResponse(authorization_url=start.authorization_url, state=start.state)

    async def CompleteOAuth(self, request: pb.CompleteOAuthRequest, context) -> pb.CompleteOAuthResponse:
        result = await self._uc.complete_oauth(
            CompleteOAuth(
                provider=request.provider,
                code=request.code,
                state=request.state,
                client=m.client_from_pb(request.client),
            )
        )
        if result.mfa_required:
            return pb.CompleteOAuthResponse(mfa_required=True, mfa_token=result.mfa_token, created=result.created)
        return pb.CompleteOAuthResponse(session=m.session_to_pb(result.session), created=result.created)

    async def CreateKycSession(self, request: pb.CreateKycSessionRequest, context) -> pb.CreateKycSessionResponse:
        opened = await self._uc.create_kyc_session(CreateKycSession(actor=m.actor(), return_url=request.return_url))
        return pb.CreateKycSessionResponse(
            verification_url=opened.verification_url, kyc_case=m.kyc_case_to_pb(opened.case)
        )

    async def GetKyc(self, request: pb.GetKycRequest, context) -> pb.GetKycResponse:
        case = await self._uc.get_kyc(GetKyc(actor=m.actor(), user_id=request.user_id))
        return pb.GetKycResponse(kyc_case=m.kyc_case_to_pb(case))

    async def ApplyKycVerificationEvent(
        self, request: pb.ApplyKycVerificationEventRequest, context
    ) -> pb.ApplyKycVerificationEventResponse:
        applied = await self._uc.apply_kyc_verification_event(
            ApplyKycVerificationEvent(
                stripe_event_id=request.stripe_event_id,
                event_type=request.event_type,
                verification_session_id=request.verification_session_id,
                event_created_at=m.datetime_or_none(request, "event_created_at"),
                last_error_code=request.last_error_code,
                ip=m.actor().ip,
            )
        )
        return pb.ApplyKycVerificationEventResponse(
            duplicate=applied.duplicate, kyc_case=m.kyc_case_to_pb(applied.case) if applied.case else None
        )

    async def ReviewKyc(self, request: pb.ReviewKycRequest, context) -> pb.ReviewKycResponse:
        case = await self._uc.review_kyc(
            ReviewKyc(
                actor=m.actor(),
                user_id=request.user_id,
                decision=m.DECISION_FROM_PB.get(request.decision),
                notes=request.notes,
            )
        )
        return pb.ReviewKycResponse(kyc_case=m.kyc_case_to_pb(case))

    async def UploadKycDocument(self, request: pb.UploadKycDocumentRequest, context) -> pb.UploadKycDocumentResponse:
        document = await self._uc.upload_kyc_document(
            UploadKycDocument(
                actor=m.actor(), kind=request.kind, content_type=request.content_type, content=request.content
            )
        )
        return pb.UploadKycDocumentResponse(document=m.kyc_document_to_pb(document))

    async def GetKycDocument(self, request: pb.GetKycDocumentRequest, context) -> pb.GetKycDocumentResponse:
        document, content = await self._uc.read_kyc_document(
            ReadKycDocument(actor=m.actor(), document_id=request.document_id)
        )
        return pb.GetKycDocumentResponse(document=m.kyc_document_to_pb(document), content=content)
