"""/v1/funded-agreement: the funded-trader agreement in force, which a trader reads before accepting it for a passed
account (POST /v1/accounts/{id}/funded-agreement names the version shown; ADR 0046)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.auth import require_role
from gateway.challenges_models import FundedAgreementOut, agreement_out
from gateway.routers.challenges_calls import challenges_rpc
from libs.platform.auth import Claims

router = APIRouter(prefix="/v1/funded-agreement", tags=["accounts"])
Reader = Annotated[Claims, Depends(require_role("trader", "support", "admin"))]


@router.get(
    "", response_model=FundedAgreementOut, summary="The funded-trader agreement in force: version, SHA-256, text"
)
async def get_funded_agreement(request: Request, claims: Reader) -> FundedAgreementOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(request, "GetFundedAgreement", pb.GetFundedAgreementRequest(), claims)
    return agreement_out(reply.agreement)
