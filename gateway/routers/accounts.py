"""/v1/accounts: the caller's trading accounts (support and admin: any account)."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from gateway.auth import require_role
from gateway.challenges_models import (
    AccountList,
    AccountOut,
    AgreementAcceptanceOut,
    AgreementAcceptIn,
    FundedOut,
    OrderOut,
    PlatformCredentialsOut,
    ResetIn,
    RetryOut,
    acceptance_out,
    account_out,
    credentials_out,
    funded_out,
    order_out,
)
from gateway.problems import problem
from gateway.routers.challenges_calls import IdempotencyKey, challenges_rpc
from libs.platform.auth import Claims
from libs.platform.grpc_errors import error_info

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
Reader = Annotated[Claims, Depends(require_role("trader", "support", "admin"))]
Trader = Annotated[Claims, Depends(require_role("trader"))]


@router.get("", response_model=AccountList, summary="The caller's trading accounts, newest first")
async def list_accounts(
    request: Request,
    claims: Reader,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=512)] = "",
) -> AccountList:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    # user_id is the caller's own: the service also forces it for traders, this keeps staff's own view the same.
    reply = await challenges_rpc(
        request,
        "ListAccounts",
        pb.ListAccountsRequest(page_size=page_size, page_token=page_token, user_id=claims.user_id),
        claims,
    )
    return AccountList(accounts=[account_out(a) for a in reply.accounts], next_page_token=reply.next_page_token or None)


@router.get(
    "/{account_id}",
    response_model=AccountOut,
    summary="One trading account with its rule-set snapshot and attempts",
    responses={404: {"description": "No such account, or not the caller's"}},
)
async def get_account(request: Request, account_id: str, claims: Reader) -> AccountOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(request, "GetAccount", pb.GetAccountRequest(account_id=account_id), claims)
    return account_out(reply.account)


@router.get(
    "/{account_id}/credentials",
    response_model=PlatformCredentialsOut,
    summary="Reveal the trading-platform login and password of the caller's account, once (audited)",
    responses={
        404: {"description": "No such account, or not the caller's"},
        409: {"description": "The account is still being created on the platform (CREDENTIALS_NOT_READY)"},
        410: {
            "description": "Already revealed (or never revealed within the retention period) and erased "
            "(CREDENTIALS_GONE): reset the password on the trading platform"
        },
    },
)
async def reveal_platform_credentials(
    request: Request, response: Response, account_id: str, claims: Trader
) -> PlatformCredentialsOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    try:
        reply = await challenges_rpc(
            request, "RevealPlatformCredentials", pb.RevealPlatformCredentialsRequest(account_id=account_id), claims
        )
    except grpc.aio.AioRpcError as exc:
        info = error_info(exc)
        if info is None or info.reason != "CREDENTIALS_GONE":
            raise  # the usual mapping (gateway/problems.py)
        # gRPC has no "gone": the reason says the secret existed and was erased, which HTTP calls 410.
        return problem(410, exc.details(), reason=info.reason, instance=request.url.path, extra=dict(info.metadata))
    # A password must not sit in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return credentials_out(reply)


@router.post(
    "/{account_id}/reset",
    response_model=OrderOut,
    status_code=201,
    summary="Buy a reset (a new attempt at phase 1): answers the reset order with its Stripe Checkout URL",
    responses={409: {"description": "The account cannot be reset now (its status, or failed for fraud)"}},
)
async def reset_account(
    request: Request,
    account_id: str,
    body: ResetIn,
    claims: Trader,
    idempotency_key: IdempotencyKey,
) -> OrderOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "CreateResetOrder",
        pb.CreateResetOrderRequest(
            request_id=idempotency_key, account_id=account_id, success_url=body.success_url, cancel_url=body.cancel_url
        ),
        claims,
    )
    return order_out(reply.order)


@router.post(
    "/{account_id}/retry",
    response_model=RetryOut,
    status_code=201,
    summary="Use a free retry the program included: a failed account starts a new attempt at phase 1, no payment",
    responses={
        409: {
            "description": "No free retry left (NO_FREE_RETRY_LEFT), failed for fraud (FAILED_FOR_FRAUD), or the "
            "account is not failed (its status named)"
        }
    },
)
async def retry_account(
    request: Request,
    account_id: str,
    claims: Trader,
    idempotency_key: IdempotencyKey,
) -> RetryOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request, "RetryAccount", pb.RetryAccountRequest(request_id=idempotency_key, account_id=account_id), claims
    )
    return RetryOut(account=account_out(reply.account), retry_id=reply.retry_id)


@router.post(
    "/{account_id}/subscription/cancel",
    response_model=AccountOut,
    summary="Stop a monthly account's subscription at the end of the paid period (trading continues until then)",
    responses={
        404: {"description": "No such account, or not the caller's"},
        409: {
            "description": "The account is paid once (NOT_A_SUBSCRIPTION) or its subscription already ended "
            "(SUBSCRIPTION_ENDED)"
        },
    },
)
async def cancel_subscription(
    request: Request,
    account_id: str,
    claims: Trader,
    idempotency_key: IdempotencyKey,
) -> AccountOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "CancelSubscription",
        pb.CancelSubscriptionRequest(request_id=idempotency_key, account_id=account_id),
        claims,
    )
    return account_out(reply.account)


@router.post(
    "/{account_id}/funded-agreement",
    response_model=AgreementAcceptanceOut,
    status_code=201,
    summary="Accept the funded-trader agreement (GET /v1/funded-agreement) for a passed account; idempotent",
    responses={
        404: {"description": "No such account, or not the caller's"},
        409: {
            "description": "Not the current version (AGREEMENT_VERSION_NOT_CURRENT, with the current one named), or "
            "the account is not passed (its status named)"
        },
    },
)
async def accept_funded_agreement(
    request: Request, account_id: str, body: AgreementAcceptIn, claims: Trader
) -> AgreementAcceptanceOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "AcceptFundedAgreement",
        pb.AcceptFundedAgreementRequest(
            account_id=account_id,
            agreement_version=body.agreement_version,
            agreement_sha256=body.agreement_sha256 or "",
        ),
        claims,
    )
    return acceptance_out(reply.acceptance, reply.already_accepted)


@router.post(
    "/{account_id}/fund",
    response_model=FundedOut,
    summary="Fund a passed account: KYC approved and the agreement accepted; a funded account answers already_funded",
    responses={
        404: {"description": "No such account, or not the caller's"},
        409: {
            "description": "KYC_NOT_APPROVED, AGREEMENT_NOT_ACCEPTED, NO_FUNDED_STAGE, KYC_CHECK_UNAVAILABLE, or the "
            "account is not passed (its status named)"
        },
    },
)
async def fund_account(
    request: Request,
    account_id: str,
    claims: Trader,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)] = None,
) -> FundedOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request, "FundAccount", pb.FundAccountRequest(request_id=idempotency_key or "", account_id=account_id), claims
    )
    return funded_out(reply)
