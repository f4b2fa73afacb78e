"""/v1/admin/accounts: staff view every trading account; admins suspend and reinstate (audited by the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from gateway.auth import Admin, Staff
from gateway.challenges_models import (
    ACCOUNT_STATUS_NUMBERS,
    AccountList,
    AccountOut,
    AccountStatus,
    FundedOut,
    FundIn,
    RefundOut,
    StandingIn,
    account_out,
    funded_out,
)
from gateway.routers.challenges_calls import IdempotencyKey, challenges_rpc

router = APIRouter(prefix="/v1/admin/accounts", tags=["admin"])


@router.get("", response_model=AccountList, summary="Every trading account, newest first, with filters")
async def list_accounts(
    request: Request,
    claims: Staff,
    user_id: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[list[AccountStatus] | None, Query()] = None,
    program_id: Annotated[str, Query(max_length=64)] = "",
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=512)] = "",
) -> AccountList:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "ListAccounts",
        pb.ListAccountsRequest(
            page_size=page_size,
            page_token=page_token,
            user_id=user_id,
            statuses=[ACCOUNT_STATUS_NUMBERS[s] for s in status or ()],
            program_id=program_id,
        ),
        claims,
    )
    return AccountList(accounts=[account_out(a) for a in reply.accounts], next_page_token=reply.next_page_token or None)


@router.get("/{account_id}", response_model=AccountOut, summary="Any trading account")
async def get_account(request: Request, account_id: str, claims: Staff) -> AccountOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(request, "GetAccount", pb.GetAccountRequest(account_id=account_id), claims)
    return account_out(reply.account)


@router.post("/{account_id}/suspend", response_model=AccountOut, summary="Suspend an account (admin, audited)")
async def suspend_account(
    request: Request,
    account_id: str,
    body: StandingIn,
    claims: Admin,
    idempotency_key: IdempotencyKey,
) -> AccountOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "SuspendAccount",
        pb.SuspendAccountRequest(request_id=idempotency_key, account_id=account_id, reason=body.reason),
        claims,
    )
    return account_out(reply.account)


@router.post(
    "/{account_id}/reinstate",
    response_model=AccountOut,
    summary="Return a suspended account to where it was (admin, audited)",
)
async def reinstate_account(
    request: Request,
    account_id: str,
    body: StandingIn,
    claims: Admin,
    idempotency_key: IdempotencyKey,
) -> AccountOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "ReinstateAccount",
        pb.ReinstateAccountRequest(request_id=idempotency_key, account_id=account_id, reason=body.reason),
        claims,
    )
    return account_out(reply.account)


@router.post(
    "/{account_id}/refund",
    response_model=RefundOut,
    summary="Refund the purchase through Stripe and close the account (admin, audited)",
    responses={409: {"description": "The account's order is not paid (nothing to refund)"}},
)
async def refund_account(
    request: Request,
    account_id: str,
    body: StandingIn,
    claims: Admin,
    idempotency_key: IdempotencyKey,
) -> RefundOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "RefundAccount",
        pb.RefundAccountRequest(request_id=idempotency_key, account_id=account_id, reason=body.reason),
        claims,
    )
    return RefundOut(account=account_out(reply.account), refund_id=reply.refund_id)


@router.post(
    "/{account_id}/fund",
    response_model=FundedOut,
    summary="Fund a trader's passed account (admin, audited): the same checks as the trader's own request",
    responses={
        409: {
            "description": "KYC_NOT_APPROVED, AGREEMENT_NOT_ACCEPTED, NO_FUNDED_STAGE, KYC_CHECK_UNAVAILABLE, or the "
            "account is not passed (its status named)"
        }
    },
)
async def fund_account(
    request: Request,
    account_id: str,
    body: FundIn,
    claims: Admin,
    idempotency_key: IdempotencyKey,
) -> FundedOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "FundAccount",
        pb.FundAccountRequest(request_id=idempotency_key, account_id=account_id, reason=body.reason),
        claims,
    )
    return funded_out(reply)
