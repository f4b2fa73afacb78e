"""Proto <-> use-case translation for the challenges service. Syntax checks live here; rules live in the domain."""

from __future__ import annotations

import json

from dynasty.challenges.v1 import challenges_service_pb2 as pb
from dynasty.common.v1 import money_pb2
from libs.domain.errors import InvalidArgument
from libs.platform.grpc_errors import Caller
from libs.platform.proto_money import money_from_proto, money_to_proto
from services.challenges.application.actor import Caller as UseCaseCaller
from services.challenges.application.create_program_version import Actor, CreateProgramVersion
from services.challenges.domain.account import AccountStatus, TradingAccount
from services.challenges.domain.funded_agreement import AgreementAcceptance, FundedAgreement
from services.challenges.domain.order import Order, OrderStatus
from services.challenges.domain.program import PhaseKind, ProgramVersion, VersionStatus
from services.challenges.domain.scaling import ScalingStep

_PHASE_TO_PB = {
    PhaseKind.PHASE_1: pb.PHASE_KIND_PHASE_1,
    PhaseKind.PHASE_2: pb.PHASE_KIND_PHASE_2,
    PhaseKind.FUNDED: pb.PHASE_KIND_FUNDED,
}
_PHASE_FROM_PB = {v: k for k, v in _PHASE_TO_PB.items()}
_STATUS_TO_PB = {
    VersionStatus.PUBLISHED: pb.PROGRAM_VERSION_STATUS_PUBLISHED,
    VersionStatus.RETIRED: pb.PROGRAM_VERSION_STATUS_RETIRED,
}


def program_to_pb(version: ProgramVersion) -> pb.Program:
    message = pb.Program(
        program_id=version.program_id,
        version=version.version,
        version_id=str(version.version_id),
        name=version.terms.name,
        account_size=money_to_proto(version.terms.account_size, money_pb2.Money),
        price=money_to_proto(version.terms.price, money_pb2.Money),
        status=_STATUS_TO_PB[version.status],
        profit_split=str(version.terms.profit_split),
        billing=version.terms.billing.value,
        phases=[
            pb.Phase(kind=_PHASE_TO_PB[p.kind], rule_set_json=json.dumps(dict(p.rule_set), sort_keys=True))
            for p in version.terms.phases
        ],
    )
    message.published_at.FromDatetime(version.published_at)
    _retry_terms_to_pb(message, version.terms.reset_fee, version.terms.free_retries, version.terms.scaling_plan)
    return message


def _retry_terms_to_pb(message, reset_fee, free_retries: int, plan) -> None:
    if reset_fee is not None:
        message.reset_fee.CopyFrom(money_to_proto(reset_fee, money_pb2.Money))
    message.free_retries = free_retries
    for step in plan:
        message.scaling_plan.add(
            after_payouts=step.after_payouts, account_size=money_to_proto(step.account_size, money_pb2.Money)
        )


def _scaling_plan_from_pb(request: pb.CreateProgramVersionRequest) -> tuple[ScalingStep, ...]:
    steps = []
    for i, step in enumerate(request.scaling_plan):
        if not step.HasField("account_size"):
            raise InvalidArgument("account_size is required", field=f"scaling_plan[{i}].account_size")
        steps.append(
            ScalingStep(
                after_payouts=step.after_payouts,
                account_size=money_from_proto(step.account_size, field=f"scaling_plan[{i}].account_size"),
            )
        )
    return tuple(steps)


def create_program_version_from_pb(request: pb.CreateProgramVersionRequest, caller: Caller) -> CreateProgramVersion:
    phases = []
    for i, phase in enumerate(request.phases):
        if phase.kind not in _PHASE_FROM_PB:
            raise InvalidArgument(f"phases[{i}].kind is required", field=f"phases[{i}].kind")
        try:
            rule_set = json.loads(phase.rule_set_json)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(
                f"phases[{i}].rule_set_json is not valid JSON: {exc.msg}", field=f"phases[{i}].rule_set_json"
            ) from None
        phases.append((_PHASE_FROM_PB[phase.kind].value, rule_set))
    if not request.HasField("account_size"):
        raise InvalidArgument("account_size is required", field="account_size")
    if not request.HasField("price"):
        raise InvalidArgument("price is required", field="price")
    return CreateProgramVersion(
        request_id=request.request_id,
        program_id=request.program_id,
        expected_current_version=request.expected_current_version or None,
        name=request.name,
        account_size=money_from_proto(request.account_size, field="account_size"),
        price=money_from_proto(request.price, field="price"),
        profit_split=request.profit_split or "0.80",
        phases=phases,
        actor=Actor(actor_id=caller.actor_id, role=caller.role, ip=caller.ip),
        reset_fee=money_from_proto(request.reset_fee, field="reset_fee") if request.HasField("reset_fee") else None,
        free_retries=request.free_retries,
        scaling_plan=_scaling_plan_from_pb(request),
        billing=request.billing,
    )


# -- orders and accounts ------------------------------------------------------------------------------------------

_ORDER_STATUS_TO_PB = {
    OrderStatus.PENDING: pb.ORDER_STATUS_PENDING,
    OrderStatus.PAID: pb.ORDER_STATUS_PAID,
    OrderStatus.FAILED: pb.ORDER_STATUS_FAILED,
    OrderStatus.REFUNDED: pb.ORDER_STATUS_REFUNDED,
}
ACCOUNT_STATUS_TO_PB = {status: getattr(pb, f"ACCOUNT_STATUS_{status.name}") for status in AccountStatus}
ACCOUNT_STATUS_FROM_PB = {v: k for k, v in ACCOUNT_STATUS_TO_PB.items()}


def use_case_caller(caller: Caller) -> UseCaseCaller:
    return UseCaseCaller(
        actor_id=caller.actor_id,
        role=caller.role,
        ip=caller.ip,
        token=caller.claims.token if caller.claims is not None else None,
    )


def order_to_pb(order: Order) -> pb.Order:
    message = pb.Order(
        order_id=str(order.order_id),
        user_id=order.user_id,
        program_id=order.program_id,
        program_version=order.program_version,
        price=money_to_proto(order.price, money_pb2.Money),
        status=_ORDER_STATUS_TO_PB[order.status],
        checkout_url=order.checkout_url or "",
        checkout_session_id=order.checkout_session_id or "",
        promotion_code=order.promotion_code or "",
        reset_account_id=str(order.reset_account_id) if order.reset_account_id else "",
        billing=order.billing,
    )
    message.created_at.FromDatetime(order.created_at)
    return message


def account_to_pb(account: TradingAccount) -> pb.TradingAccount:
    message = pb.TradingAccount(
        account_id=str(account.account_id),
        user_id=account.user_id,
        order_id=str(account.order_id),
        program_id=account.program_id,
        program_version=account.program_version,
        status=ACCOUNT_STATUS_TO_PB[account.status],
        phases=[
            pb.Phase(kind=_PHASE_TO_PB[PhaseKind(p.kind)], rule_set_json=json.dumps(dict(p.rule_set), sort_keys=True))
            for p in account.phases
        ],
        platform_login=account.platform.login if account.platform else "",
        failed_rule=account.failed_rule or "",
        billing="monthly" if account.subscription else "one_time",
        subscription_status=account.subscription.status.value if account.subscription else "",
    )
    message.created_at.FromDatetime(account.created_at)
    _account_scaling_to_pb(message, account)
    if account.subscription and account.subscription.paid_through:
        message.paid_through.FromDatetime(account.subscription.paid_through)
    if account.subscription and account.subscription.grace_until:
        message.grace_until.FromDatetime(account.subscription.grace_until)
    if account.subscription and account.subscription.cancel_at:
        message.subscription_cancel_at.FromDatetime(account.subscription.cancel_at)
    for attempt in account.attempts:
        out = message.attempts.add(
            number=attempt.number,
            phase=_PHASE_TO_PB[PhaseKind(attempt.phase)],
            outcome=attempt.outcome or "",
            failed_rule=attempt.failed_rule or "",
        )
        out.started_at.FromDatetime(attempt.started_at)
        if attempt.ended_at is not None:
            out.ended_at.FromDatetime(attempt.ended_at)
    return message


def _account_scaling_to_pb(message: pb.TradingAccount, account: TradingAccount) -> None:
    """The retry and scaling terms the account bought, its free retries left, size now and scale steps taken."""
    terms = account.terms
    if terms is not None:
        _retry_terms_to_pb(message, terms.reset_fee, terms.free_retries, terms.scaling_plan)
    message.free_retries_left = account.free_retries_left
    if account.account_size is not None:
        message.account_size.CopyFrom(money_to_proto(account.account_size, money_pb2.Money))
    message.payouts_counted = account.payouts_counted
    for step in account.scale_steps:
        out = message.scale_steps.add(
            step=step.number,
            from_size=money_to_proto(step.from_size, money_pb2.Money),
            to_size=money_to_proto(step.to_size, money_pb2.Money),
            payouts=step.payouts,
            payout_id=step.payout_id,
        )
        out.taken_at.FromDatetime(step.at)


def agreement_to_pb(agreement: FundedAgreement) -> pb.FundedAgreement:
    return pb.FundedAgreement(version=agreement.version, sha256=agreement.sha256, text=agreement.text)


def acceptance_to_pb(acceptance: AgreementAcceptance) -> pb.FundedAgreementAcceptance:
    message = pb.FundedAgreementAcceptance(
        account_id=str(acceptance.account_id),
        user_id=acceptance.user_id,
        agreement_version=acceptance.version,
        agreement_sha256=acceptance.sha256,
    )
    message.accepted_at.FromDatetime(acceptance.accepted_at)
    return message
