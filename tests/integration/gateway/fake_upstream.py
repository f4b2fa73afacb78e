"""A small in-process gRPC peer for the gateway's authorization tests: IdentityService with canned answers, a
two-method ChallengesService, and health. It is the wire peer only; what is under test is the gateway (its token
verification, role and MFA policy, error mapping and the metadata it forwards), not identity's behaviour.
"""

from __future__ import annotations

import json

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from dynasty.challenges.v1 import challenges_service_pb2 as cpb
from dynasty.challenges.v1 import challenges_service_pb2_grpc as cpb_grpc
from dynasty.common.v1 import money_pb2
from dynasty.identity.v1 import identity_service_pb2 as pb
from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc
from libs.domain.errors import DomainError
from libs.platform.grpc_errors import build_status

NOW = Timestamp(seconds=1_790_000_000)
USER = pb.User(
    user_id="00000000-0000-4000-8000-000000000001",
    email="t@example.com",
    email_verified=True,
    role=pb.ROLE_TRADER,
    status=pb.USER_STATUS_ACTIVE,
    kyc_status=pb.KYC_STATUS_NOT_STARTED,
    created_at=NOW,
)
SESSION = pb.Session(
    access_token="canned.access.token",
    access_token_expires_at=NOW,
    refresh_token="canned-refresh",
    refresh_token_expires_at=NOW,
    token_type="Bearer",
)
KYC = pb.KycCase(user_id=USER.user_id, status=pb.KYC_STATUS_PENDING, updated_at=NOW)
TAX = pb.TaxProfile(form=pb.TAX_FORM_W9, legal_name="T", tin_masked="*****6789", country="US", address="1 St")
KYC_DOCUMENT = pb.KycDocument(
    document_id="00000000-0000-4000-8000-0000000d0c01",
    user_id=USER.user_id,
    kind="proof_of_address",
    content_type="application/pdf",
    size_bytes=len(b"%PDF-1.7 canned utility bill"),
    uploaded_at=NOW,
)
LOGIN = pb.LoginEvent(at=NOW, ip="203.0.113.9", user_agent="ua", country="US", succeeded=True, outcome="ok")


class CannedIdentity(pb_grpc.IdentityServiceServicer):
    """Answers every RPC the gateway calls; records each call's method, request and metadata."""

    def __init__(self) -> None:
        self.jwks: dict = {"keys": []}  # what GetJwks serves
        self.calls: list[tuple[str, object, dict[str, str]]] = []
        self.refuse_next: DomainError | None = None  # make the next call fail with this error
        self.kyc_document_content = b"%PDF-1.7 canned utility bill"  # what GetKycDocument serves

    async def _answer(self, method: str, request, context, reply):
        self.calls.append((method, request, dict(context.invocation_metadata() or ())))
        if self.refuse_next is not None:
            error, self.refuse_next = self.refuse_next, None
            await context.abort_with_status(rpc_status.to_status(build_status(error, "identity")))
        return reply

    async def GetJwks(self, request, context):
        reply = pb.GetJwksResponse(jwks_json=json.dumps(self.jwks), max_age_seconds=300)
        return await self._answer("GetJwks", request, context, reply)

    async def Register(self, request, context):
        return await self._answer("Register", request, context, pb.RegisterResponse(message="check your email"))

    async def VerifyEmail(self, request, context):
        return await self._answer("VerifyEmail", request, context, pb.VerifyEmailResponse(user=USER))

    async def Login(self, request, context):
        return await self._answer("Login", request, context, pb.LoginResponse(session=SESSION))

    async def CompleteMfaLogin(self, request, context):
        return await self._answer("CompleteMfaLogin", request, context, pb.CompleteMfaLoginResponse(session=SESSION))

    async def RefreshSession(self, request, context):
        return await self._answer("RefreshSession", request, context, pb.RefreshSessionResponse(session=SESSION))

    async def Logout(self, request, context):
        return await self._answer("Logout", request, context, pb.LogoutResponse())

    async def LogoutEverywhere(self, request, context):
        reply = pb.LogoutEverywhereResponse(sessions_revoked=2)
        return await self._answer("LogoutEverywhere", request, context, reply)

    async def StartOAuth(self, request, context):
        reply = pb.StartOAuthResponse(
            authorization_url="https://accounts.example.com/authorize?state=s-123", state="s-123"
        )
        return await self._answer("StartOAuth", request, context, reply)

    async def CompleteOAuth(self, request, context):
        reply = pb.CompleteOAuthResponse(session=SESSION, created=True)
        return await self._answer("CompleteOAuth", request, context, reply)

    async def EnrollTotp(self, request, context):
        reply = pb.EnrollTotpResponse(provisioning_uri="otpauth://totp/Dynasty:t?secret=ABC", secret="ABC")
        return await self._answer("EnrollTotp", request, context, reply)

    async def ConfirmTotp(self, request, context):
        reply = pb.ConfirmTotpResponse(recovery_codes=["r1", "r2"])
        return await self._answer("ConfirmTotp", request, context, reply)

    async def StepUp(self, request, context):
        reply = pb.StepUpResponse(access_token="canned.step.up", access_token_expires_at=NOW)
        return await self._answer("StepUp", request, context, reply)

    async def GetMe(self, request, context):
        return await self._answer("GetMe", request, context, pb.GetMeResponse(user=USER))

    async def ListLoginEvents(self, request, context):
        reply = pb.ListLoginEventsResponse(events=[LOGIN])
        return await self._answer("ListLoginEvents", request, context, reply)

    async def CreateKycSession(self, request, context):
        reply = pb.CreateKycSessionResponse(verification_url="https://verify.example.com/vs_1", kyc_case=KYC)
        return await self._answer("CreateKycSession", request, context, reply)

    async def GetKyc(self, request, context):
        return await self._answer("GetKyc", request, context, pb.GetKycResponse(kyc_case=KYC))

    async def ApplyKycVerificationEvent(self, request, context):
        reply = pb.ApplyKycVerificationEventResponse(duplicate=False, kyc_case=KYC)
        return await self._answer("ApplyKycVerificationEvent", request, context, reply)

    async def ReviewKyc(self, request, context):
        return await self._answer("ReviewKyc", request, context, pb.ReviewKycResponse(kyc_case=KYC))

    async def SetTaxProfile(self, request, context):
        return await self._answer("SetTaxProfile", request, context, pb.SetTaxProfileResponse(tax_profile=TAX))

    async def GetTaxProfile(self, request, context):
        return await self._answer("GetTaxProfile", request, context, pb.GetTaxProfileResponse(tax_profile=TAX))

    async def ListUsers(self, request, context):
        return await self._answer("ListUsers", request, context, pb.ListUsersResponse(users=[USER]))

    async def GetUser(self, request, context):
        return await self._answer("GetUser", request, context, pb.GetUserResponse(user=USER))

    async def SuspendUser(self, request, context):
        return await self._answer("SuspendUser", request, context, pb.SuspendUserResponse(user=USER))

    async def ReinstateUser(self, request, context):
        return await self._answer("ReinstateUser", request, context, pb.ReinstateUserResponse(user=USER))

    async def TerminateUser(self, request, context):
        return await self._answer("TerminateUser", request, context, pb.TerminateUserResponse(user=USER))

    async def ChangeRole(self, request, context):
        return await self._answer("ChangeRole", request, context, pb.ChangeRoleResponse(user=USER))

    async def SetIpAllowList(self, request, context):
        reply = pb.SetIpAllowListResponse(cidrs=list(request.cidrs))
        return await self._answer("SetIpAllowList", request, context, reply)

    async def ClearReviewFlag(self, request, context):
        flag = pb.ReviewFlag(
            flag_id=request.flag_id,
            user_id=request.user_id,
            reason="chargeback",
            source="challenges",
            source_ref="dp_canned",
            evidence={"amount": "549.00", "currency": "USD"},
            status=pb.REVIEW_FLAG_STATUS_CLEARED,
            raised_at=NOW,
            cleared_at=NOW,
            cleared_by="00000000-0000-4000-8000-00000000057a",
            clear_reason=request.reason,
        )
        return await self._answer("ClearReviewFlag", request, context, pb.ClearReviewFlagResponse(flag=flag))

    async def UploadKycDocument(self, request, context):
        # Echo what arrived, so a test sees the bytes and media type the gateway forwarded.
        document = pb.KycDocument()
        document.CopyFrom(KYC_DOCUMENT)
        document.kind, document.content_type = request.kind, request.content_type
        document.size_bytes = len(request.content)
        reply = pb.UploadKycDocumentResponse(document=document)
        return await self._answer("UploadKycDocument", request, context, reply)

    async def GetKycDocument(self, request, context):
        document = pb.KycDocument()
        document.CopyFrom(KYC_DOCUMENT)
        document.document_id = request.document_id or KYC_DOCUMENT.document_id
        document.size_bytes = len(self.kyc_document_content)
        reply = pb.GetKycDocumentResponse(document=document, content=self.kyc_document_content)
        return await self._answer("GetKycDocument", request, context, reply)


PROGRAM = cpb.Program(
    program_id="eval-50k",
    version=1,
    version_id="v-1",
    name="$50K Evaluation",
    account_size=money_pb2.Money(units=50000, currency_code="USD"),
    price=money_pb2.Money(units=249, currency_code="USD"),
    profit_split="0.80",
    status=1,
    phases=[cpb.Phase(kind=1, rule_set_json=json.dumps({"start_balance": "50000.00"}))],
    published_at=NOW,
)


class CannedChallenges(cpb_grpc.ChallengesServiceServicer):
    async def ListPrograms(self, request, context):
        return cpb.ListProgramsResponse(programs=[PROGRAM])

    async def GetProgram(self, request, context):
        return cpb.GetProgramResponse(program=PROGRAM)


class FakeUpstream:
    def __init__(self) -> None:
        self.identity = CannedIdentity()
        # Identity's own limit (services/identity/main.MAX_MESSAGE_BYTES), so 10 MiB documents can be exercised.
        self.server = grpc.aio.server(options=[("grpc.max_receive_message_length", 12 * 1024 * 1024)])
        pb_grpc.add_IdentityServiceServicer_to_server(self.identity, self.server)
        cpb_grpc.add_ChallengesServiceServicer_to_server(CannedChallenges(), self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)

    async def stop(self) -> None:
        await self.server.stop(0)
