"""dynasty.challenges.v1.ChallengesService: translate, call the use case, translate back. Nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import stripe

from dynasty.challenges.v1 import challenges_service_pb2 as pb
from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
from libs.domain.errors import InvalidArgument
from libs.platform.grpc_errors import current_caller
from libs.platform.paging import decode_page_token, encode_page_token
from services.challenges.adapters.grpc.mapping import (
    ACCOUNT_STATUS_FROM_PB,
    acceptance_to_pb,
    account_to_pb,
    agreement_to_pb,
    create_program_version_from_pb,
    order_to_pb,
    program_to_pb,
    use_case_caller,
)
from services.challenges.adapters.stripe.payments import to_notice, verify_event
from services.challenges.application.accept_funded_agreement import (
    AcceptFundedAgreement,
    AcceptFundedAgreementHandler,
)
from services.challenges.application.cancel_subscription import CancelSubscription, CancelSubscriptionHandler
from services.challenges.application.change_account_standing import (
    ChangeAccountStanding,
    ChangeAccountStandingHandler,
)
from services.challenges.application.create_order import CreateOrder, CreateOrderHandler
from services.challenges.application.create_program_version import CreateProgramVersionHandler
from services.challenges.application.create_reset_order import CreateResetOrder, CreateResetOrderHandler
from services.challenges.application.fund_account import FundAccount, FundAccountHandler
from services.challenges.application.get_account import GetAccount, GetAccountHandler
from services.challenges.application.get_funded_agreement import GetFundedAgreement, GetFundedAgreementHandler
from services.challenges.application.get_order import GetOrder, GetOrderHandler
from services.challenges.application.get_program import GetProgram, GetProgramHandler
from services.challenges.application.list_accounts import ListAccounts, ListAccountsHandler
from services.challenges.application.list_programs import ListPrograms, ListProgramsHandler
from services.challenges.application.record_payment_event import RecordPaymentEventHandler
from services.challenges.application.refund_account import RefundAccount, RefundAccountHandler
from services.challenges.application.reveal_platform_credentials import (
    RevealPlatformCredentials,
    RevealPlatformCredentialsHandler,
)
from services.challenges.application.use_free_retry import UseFreeRetry, UseFreeRetryHandler


@dataclass(frozen=True)
class PurchaseHandlers:
    create_order: CreateOrderHandler
    get_order: GetOrderHandler
    record_payment_event: RecordPaymentEventHandler
    list_accounts: ListAccountsHandler
    get_account: GetAccountHandler
    change_standing: ChangeAccountStandingHandler
    refund_account: RefundAccountHandler
    create_reset_order: CreateResetOrderHandler
    webhook_secret: Callable[[], str | None]
    use_free_retry: UseFreeRetryHandler | None = None
    cancel_subscription: CancelSubscriptionHandler | None = None  # a trader stops their monthly billing (ADR 0051)
    # Funding (ADR 0046).
    get_funded_agreement: GetFundedAgreementHandler | None = None
    accept_funded_agreement: AcceptFundedAgreementHandler | None = None
    fund_account: FundAccountHandler | None = None
    # The trader's sealed platform password, revealed once (ADR 0045).
    reveal_platform_credentials: RevealPlatformCredentialsHandler | None = None


class ChallengesServicer(pb_grpc.ChallengesServiceServicer):
    def __init__(
        self,
        list_programs: ListProgramsHandler,
        get_program: GetProgramHandler,
        create_program_version: CreateProgramVersionHandler,
        purchases: PurchaseHandlers | None = None,
    ) -> None:
        self._list_programs = list_programs
        self._get_program = get_program
        self._create_program_version = create_program_version
        self._purchases = purchases

    async def ListPrograms(self, request: pb.ListProgramsRequest, context) -> pb.ListProgramsResponse:
        page = await self._list_programs(
            ListPrograms(page_size=request.page_size, after_key=decode_page_token(request.page_token))
        )
        return pb.ListProgramsResponse(
            programs=[program_to_pb(p) for p in page.programs],
            next_page_token=encode_page_token(page.next_after_key),
        )

    async def GetProgram(self, request: pb.GetProgramRequest, context) -> pb.GetProgramResponse:
        version = await self._get_program(GetProgram(request.program_id, request.version or None))
        return pb.GetProgramResponse(program=program_to_pb(version))

    async def CreateProgramVersion(
        self, request: pb.CreateProgramVersionRequest, context
    ) -> pb.CreateProgramVersionResponse:
        command = create_program_version_from_pb(request, current_caller())
        version = await self._create_program_version(command)
        return pb.CreateProgramVersionResponse(program=program_to_pb(version))

    # -- orders and accounts --------------------------------------------------------------------------------------
    async def CreateOrder(self, request: pb.CreateOrderRequest, context) -> pb.CreateOrderResponse:
        order = await self._purchases.create_order(
            CreateOrder(
                request_id=request.request_id,
                program_id=request.program_id,
                program_version=request.program_version or None,
                promotion_code=request.promotion_code or None,
                success_url=request.success_url,
                cancel_url=request.cancel_url,
                caller=use_case_caller(current_caller()),
            )
        )
        return pb.CreateOrderResponse(order=order_to_pb(order))

    async def CreateResetOrder(self, request: pb.CreateResetOrderRequest, context) -> pb.CreateResetOrderResponse:
        order = await self._purchases.create_reset_order(
            CreateResetOrder(
                request_id=request.request_id,
                account_id=request.account_id,
                success_url=request.success_url,
                cancel_url=request.cancel_url,
                caller=use_case_caller(current_caller()),
            )
        )
        return pb.CreateResetOrderResponse(order=order_to_pb(order))

    async def RetryAccount(self, request: pb.RetryAccountRequest, context) -> pb.RetryAccountResponse:
        used = await self._purchases.use_free_retry(
            UseFreeRetry(
                request_id=request.request_id,
                account_id=request.account_id,
                caller=use_case_caller(current_caller()),
            )
        )
        return pb.RetryAccountResponse(account=account_to_pb(used.account), retry_id=str(used.retry_id))

    async def CancelSubscription(self, request: pb.CancelSubscriptionRequest, context) -> pb.CancelSubscriptionResponse:
        account = await self._purchases.cancel_subscription(
            CancelSubscription(
                caller=use_case_caller(current_caller()),
                request_id=request.request_id,
                account_id=request.account_id,
            )
        )
        return pb.CancelSubscriptionResponse(account=account_to_pb(account))

    async def GetFundedAgreement(self, request: pb.GetFundedAgreementRequest, context) -> pb.GetFundedAgreementResponse:
        agreement = await self._purchases.get_funded_agreement(GetFundedAgreement(use_case_caller(current_caller())))
        return pb.GetFundedAgreementResponse(agreement=agreement_to_pb(agreement))

    async def AcceptFundedAgreement(
        self, request: pb.AcceptFundedAgreementRequest, context
    ) -> pb.AcceptFundedAgreementResponse:
        accepted = await self._purchases.accept_funded_agreement(
            AcceptFundedAgreement(
                caller=use_case_caller(current_caller()),
                account_id=request.account_id,
                agreement_version=request.agreement_version,
                agreement_sha256=request.agreement_sha256 or None,
            )
        )
        return pb.AcceptFundedAgreementResponse(
            acceptance=acceptance_to_pb(accepted.acceptance), already_accepted=accepted.already_accepted
        )

    async def FundAccount(self, request: pb.FundAccountRequest, context) -> pb.FundAccountResponse:
        funded = await self._purchases.fund_account(
            FundAccount(
                caller=use_case_caller(current_caller()),
                account_id=request.account_id,
                request_id=request.request_id,
                reason=request.reason,
            )
        )
        return pb.FundAccountResponse(
            account=account_to_pb(funded.account),
            funding_id=str(funded.funding_id),
            already_funded=funded.already_funded,
        )

    async def RevealPlatformCredentials(
        self, request: pb.RevealPlatformCredentialsRequest, context
    ) -> pb.RevealPlatformCredentialsResponse:
        revealed = await self._purchases.reveal_platform_credentials(
            RevealPlatformCredentials(caller=use_case_caller(current_caller()), account_id=request.account_id)
        )
        reply = pb.RevealPlatformCredentialsResponse(
            account_id=revealed.account_id, login=revealed.login, password=revealed.password, repeat=revealed.repeat
        )
        reply.revealed_at.FromDatetime(revealed.revealed_at)
        return reply

    async def GetOrder(self, request: pb.GetOrderRequest, context) -> pb.GetOrderResponse:
        order, account_id = await self._purchases.get_order(
            GetOrder(caller=use_case_caller(current_caller()), order_id=request.order_id)
        )
        return pb.GetOrderResponse(order=order_to_pb(order), account_id=str(account_id) if account_id else "")

    async def RecordStripeEvent(self, request: pb.RecordStripeEventRequest, context) -> pb.RecordStripeEventResponse:
        secret = self._purchases.webhook_secret()
        if not secret:
            raise InvalidArgument("this service has no Stripe webhook secret configured", field="signature")
        try:
            event = verify_event(request.payload, request.signature, secret)
        except stripe.SignatureVerificationError:
            raise InvalidArgument(
                "the Stripe signature does not verify", field="signature", reason="INVALID_SIGNATURE"
            ) from None
        except ValueError:
            raise InvalidArgument("the payload is not a Stripe event", field="payload") from None
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise InvalidArgument("the payload is not a Stripe event", field="payload")
        recorded = await self._purchases.record_payment_event(to_notice(event))
        return pb.RecordStripeEventResponse(
            event_id=event["id"], duplicate=recorded.duplicate, outcome=recorded.outcome
        )

    async def ListAccounts(self, request: pb.ListAccountsRequest, context) -> pb.ListAccountsResponse:
        statuses = []
        for value in request.statuses:
            if value not in ACCOUNT_STATUS_FROM_PB:
                raise InvalidArgument("statuses holds an unknown status", field="statuses")
            statuses.append(ACCOUNT_STATUS_FROM_PB[value].value)
        page = await self._purchases.list_accounts(
            ListAccounts(
                caller=use_case_caller(current_caller()),
                page_size=request.page_size,
                after_key=decode_page_token(request.page_token),
                user_id=request.user_id or None,
                statuses=tuple(statuses),
                program_id=request.program_id or None,
            )
        )
        return pb.ListAccountsResponse(
            accounts=[account_to_pb(a) for a in page.accounts], next_page_token=encode_page_token(page.next_after_key)
        )

    async def GetAccount(self, request: pb.GetAccountRequest, context) -> pb.GetAccountResponse:
        account = await self._purchases.get_account(
            GetAccount(caller=use_case_caller(current_caller()), account_id=request.account_id)
        )
        return pb.GetAccountResponse(account=account_to_pb(account))

    async def SuspendAccount(self, request: pb.SuspendAccountRequest, context) -> pb.SuspendAccountResponse:
        account = await self._change_standing(request, "suspend")
        return pb.SuspendAccountResponse(account=account_to_pb(account))

    async def ReinstateAccount(self, request: pb.ReinstateAccountRequest, context) -> pb.ReinstateAccountResponse:
        account = await self._change_standing(request, "reinstate")
        return pb.ReinstateAccountResponse(account=account_to_pb(account))

    async def RefundAccount(self, request: pb.RefundAccountRequest, context) -> pb.RefundAccountResponse:
        refunded = await self._purchases.refund_account(
            RefundAccount(
                caller=use_case_caller(current_caller()),
                request_id=request.request_id,
                account_id=request.account_id,
                reason=request.reason,
            )
        )
        return pb.RefundAccountResponse(account=account_to_pb(refunded.account), refund_id=refunded.refund_id)

    async def _change_standing(self, request, action):
        return await self._purchases.change_standing(
            ChangeAccountStanding(
                caller=use_case_caller(current_caller()),
                request_id=request.request_id,
                account_id=request.account_id,
                action=action,
                reason=request.reason,
            )
        )
