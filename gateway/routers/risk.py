"""Risk: an account's live figures and its violations with their evidence (its trader, or staff), the admin review
queue of open violations (staff) and the review itself (admin). The rules service decides who may see which
account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gateway.auth import Admin, Staff, require_role
from gateway.client import call_metadata
from gateway.risk_models import ReviewIn, ReviewOut, RiskStateOut, ViolationList, risk_state_out, violation_out
from libs.platform.auth import Claims

router = APIRouter(tags=["risk"])
Reader = Annotated[Claims, Depends(require_role("trader", "support", "admin"))]


def _rules(request: Request):
    from dynasty.rules.v1 import rules_service_pb2_grpc

    return rules_service_pb2_grpc.RulesServiceStub(request.app.state.upstreams.channels["rules"])


@router.get(
    "/v1/accounts/{account_id}/risk",
    response_model=RiskStateOut,
    summary="An account's live risk: balance, equity, floor and distance to it, day P&L against the daily loss "
    "limit, trading days, consistency ratio, progress to the target",
    responses={404: {"description": "Not monitored, or not the caller's"}},
)
async def get_risk(request: Request, account_id: str, claims: Reader) -> RiskStateOut:
    from dynasty.rules.v1 import rules_service_pb2 as pb

    reply = await _rules(request).GetRiskState(
        pb.GetRiskStateRequest(account_id=account_id),
        timeout=request.app.state.upstreams.timeout,
        metadata=call_metadata(request, claims),
    )
    return risk_state_out(reply.state)


@router.get(
    "/v1/accounts/{account_id}/violations",
    response_model=ViolationList,
    summary="An account's breaches and conduct violations with their evidence, newest first",
    responses={404: {"description": "Not monitored, or not the caller's"}},
)
async def list_violations(
    request: Request, account_id: str, claims: Reader, page_size: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ViolationList:
    from dynasty.rules.v1 import rules_service_pb2 as pb

    reply = await _rules(request).ListViolations(
        pb.ListViolationsRequest(account_id=account_id, page_size=page_size),
        timeout=request.app.state.upstreams.timeout,
        metadata=call_metadata(request, claims),
    )
    return ViolationList(violations=[violation_out(v) for v in reply.violations])


@router.get(
    "/v1/admin/violations",
    response_model=ViolationList,
    summary="The review queue: open hard breaches and conduct violations of every account, newest first",
)
async def review_queue(
    request: Request, claims: Staff, page_size: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ViolationList:
    from dynasty.rules.v1 import rules_service_pb2 as pb

    reply = await _rules(request).ListViolations(
        pb.ListViolationsRequest(account_id="", page_size=page_size),
        timeout=request.app.state.upstreams.timeout,
        metadata=call_metadata(request, claims),
    )
    return ViolationList(violations=[violation_out(v) for v in reply.violations])


@router.post(
    "/v1/admin/violations/{violation_id}/review",
    response_model=ReviewOut,
    summary="Uphold or overturn a violation, with a reason (admin; audited). Overturning a breach restores the account",
    responses={409: {"description": "Already reviewed"}, 404: {"description": "No such violation"}},
)
async def review_violation(request: Request, violation_id: str, body: ReviewIn, claims: Admin) -> ReviewOut:
    from dynasty.rules.v1 import rules_service_pb2 as pb

    decision = pb.REVIEW_DECISION_UPHOLD if body.decision == "uphold" else pb.REVIEW_DECISION_OVERTURN
    reply = await _rules(request).ReviewViolation(
        pb.ReviewViolationRequest(violation_id=violation_id, decision=decision, reason=body.reason),
        timeout=request.app.state.upstreams.timeout,
        metadata=call_metadata(request, claims),
    )
    return ReviewOut(violation=violation_out(reply.violation), account_status=reply.account_status)
