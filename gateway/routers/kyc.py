"""/v1/kyc: the caller's identity verification (Stripe Identity, through the identity service)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gateway.auth import SignedIn
from gateway.identity_models import KycCaseOut, KycSessionOut, kyc_case_out
from gateway.routers.identity_calls import identity_rpc

router = APIRouter(prefix="/v1/kyc", tags=["kyc"])


class KycSessionIn(BaseModel):
    return_url: str = Field(default="", max_length=2048, description="Where Stripe sends the user back to")


def _pb():
    from dynasty.identity.v1 import identity_service_pb2 as pb

    return pb


@router.post("/session", response_model=KycSessionOut, summary="Open (or reopen) the caller's verification")
async def create_kyc_session(request: Request, claims: SignedIn, body: KycSessionIn | None = None) -> KycSessionOut:
    return_url = body.return_url if body is not None else ""
    reply = await identity_rpc(
        request, "CreateKycSession", _pb().CreateKycSessionRequest(return_url=return_url), claims
    )
    return KycSessionOut(verification_url=reply.verification_url, kyc_case=kyc_case_out(reply.kyc_case))


@router.get("", response_model=KycCaseOut, summary="The caller's KYC case")
async def get_kyc(request: Request, claims: SignedIn) -> KycCaseOut:
    reply = await identity_rpc(request, "GetKyc", _pb().GetKycRequest(), claims)
    return kyc_case_out(reply.kyc_case)
