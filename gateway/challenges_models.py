"""Response and request bodies of the order and account routes (JSON shapes, exact money as decimal strings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.routers.programs import MoneyOut, PhaseOut, ScalingStepOut, _money, scaling_plan_out

OrderStatus = Literal["pending", "paid", "failed", "refunded"]
AccountStatus = Literal[
    "pending_payment", "provisioning", "phase_1", "phase_2", "passed", "funded", "failed", "suspended", "closed"
]
_ORDER_STATUSES = {1: "pending", 2: "paid", 3: "failed", 4: "refunded"}
ACCOUNT_STATUSES = {
    1: "pending_payment",
    2: "provisioning",
    3: "phase_1",
    4: "phase_2",
    5: "passed",
    6: "funded",
    7: "failed",
    8: "suspended",
    9: "closed",
}
ACCOUNT_STATUS_NUMBERS = {v: k for k, v in ACCOUNT_STATUSES.items()}
_PHASES = {1: "phase_1", 2: "phase_2", 3: "funded"}


class OrderIn(BaseModel):
    program_id: str = Field(min_length=1, max_length=64, examples=["eval-50k"])
    program_version: int | None = Field(default=None, ge=1, description="The version shown; omit for the current")
    promotion_code: str | None = Field(default=None, max_length=64)
    success_url: str = Field(max_length=2048, examples=["https://app.dynasty.local/checkout/done"])
    cancel_url: str = Field(max_length=2048, examples=["https://app.dynasty.local/checkout/cancelled"])


class OrderOut(BaseModel):
    id: str
    program_id: str
    program_version: int
    price: MoneyOut
    status: OrderStatus
    checkout_url: str = Field(description="Stripe Checkout's hosted payment page")
    promotion_code: str | None = None
    created_at: datetime
    account_id: str | None = Field(default=None, description="The account the order bought, once paid")
    reset_account_id: str | None = Field(default=None, description="For a reset order, the account it resets")
    billing: Literal["one_time", "monthly"] = Field(
        default="one_time", description="monthly: the price is charged each month by a subscription"
    )


class ResetIn(BaseModel):
    success_url: str = Field(max_length=2048, examples=["https://app.dynasty.local/accounts/reset/done"])
    cancel_url: str = Field(max_length=2048, examples=["https://app.dynasty.local/accounts"])


class AttemptOut(BaseModel):
    number: int
    phase: Literal["phase_1", "phase_2", "funded"]
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None
    failed_rule: str | None = None


class ScaleStepOut(BaseModel):
    step: int = Field(description="The step's place in the plan, 1 for the first")
    from_size: MoneyOut
    to_size: MoneyOut
    payouts: int = Field(description="Payouts counted when the step was taken")
    payout_id: str = Field(description="The payout that reached it")
    taken_at: datetime


class AccountOut(BaseModel):
    id: str
    user_id: str
    order_id: str
    program_id: str
    program_version: int
    status: AccountStatus
    phases: list[PhaseOut] = Field(description="The rule sets snapshotted when the account was bought")
    attempts: list[AttemptOut]
    platform_login: str | None = None
    failed_rule: str | None = None
    created_at: datetime
    # The retry and scaling terms bought with the program version, and where the account stands (ADR 0054).
    reset_fee: MoneyOut | None = Field(default=None, description="What a reset costs; null: no resets sold")
    free_retries: int = Field(default=0, description="Free retries the account came with")
    free_retries_left: int = Field(default=0, description="Free retries still unused (POST .../retry uses one)")
    scaling_plan: list[ScalingStepOut] = Field(default_factory=list)
    account_size: MoneyOut | None = Field(default=None, description="The size now (raised by scaling steps)")
    payouts_counted: int = Field(default=0, description="Payouts of the funded run counted toward the plan")
    scale_steps: list[ScaleStepOut] = Field(default_factory=list, description="Scaling steps taken, oldest first")
    billing: Literal["one_time", "monthly"] = "one_time"
    paid_through: datetime | None = Field(default=None, description="Monthly: the end of the last paid period")
    grace_until: datetime | None = Field(
        default=None, description="Monthly: a payment failed; trading continues until then, then it is suspended"
    )
    subscription_status: Literal["active", "past_due", "ended"] | None = None
    subscription_cancel_at: datetime | None = Field(
        default=None,
        description="Monthly: the trader cancelled; the subscription ends (and a running evaluation closes) then",
    )


class RetryOut(BaseModel):
    account: AccountOut = Field(description="The account in its new attempt at phase 1")
    retry_id: str = Field(description="The free retry's id; the platform reset is keyed by it")


class AccountList(BaseModel):
    accounts: list[AccountOut]
    next_page_token: str | None = None


class StandingIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class RefundOut(BaseModel):
    account: AccountOut
    refund_id: str = Field(description="Stripe's refund id")


class FundedAgreementOut(BaseModel):
    version: str = Field(description="The version name a trader accepts", examples=["2026-11"])
    sha256: str = Field(description="SHA-256 of the text's UTF-8 bytes, lowercase hex")
    text: str = Field(description="The agreement (Markdown)")


class AgreementAcceptIn(BaseModel):
    agreement_version: str = Field(min_length=1, max_length=32, description="The version the trader was shown")
    agreement_sha256: str | None = Field(
        default=None, pattern="^[0-9a-fA-F]{64}$", description="Optional: the SHA-256 of the text shown"
    )


class AgreementAcceptanceOut(BaseModel):
    account_id: str
    user_id: str
    agreement_version: str
    agreement_sha256: str
    accepted_at: datetime
    already_accepted: bool = Field(description="True: accepted before; nothing was written this time")


class FundIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why staff fund it (kept in the audit record)")


class FundedOut(BaseModel):
    account: AccountOut = Field(description="The account, funded, in its funded attempt")
    funding_id: str = Field(description="The funding's id; the platform reset to the funded balance is keyed by it")
    already_funded: bool = Field(description="True: it was funded before; nothing was done this time")


class PlatformCredentialsOut(BaseModel):
    """The trading platform's login and password, shown once (ADR 0045); the response is never cached."""

    account_id: str
    login: str = Field(description="The trading platform's login")
    password: str = Field(description="The trading platform's password; change it on the platform on first use")
    revealed_at: datetime = Field(description="When it was first revealed")
    repeat: bool = Field(description="True: a repeat within the short window after the first reveal")


def credentials_out(reply: Any) -> PlatformCredentialsOut:
    return PlatformCredentialsOut(
        account_id=reply.account_id,
        login=reply.login,
        password=reply.password,
        revealed_at=reply.revealed_at.ToDatetime(tzinfo=UTC),
        repeat=reply.repeat,
    )


def funded_out(reply: Any) -> FundedOut:
    """FundAccount's answer, the same whether the trader or an admin asked."""
    return FundedOut(
        account=account_out(reply.account), funding_id=reply.funding_id, already_funded=reply.already_funded
    )


def agreement_out(agreement: Any) -> FundedAgreementOut:
    return FundedAgreementOut(version=agreement.version, sha256=agreement.sha256, text=agreement.text)


def acceptance_out(acceptance: Any, already_accepted: bool) -> AgreementAcceptanceOut:
    return AgreementAcceptanceOut(
        account_id=acceptance.account_id,
        user_id=acceptance.user_id,
        agreement_version=acceptance.agreement_version,
        agreement_sha256=acceptance.agreement_sha256,
        accepted_at=acceptance.accepted_at.ToDatetime(tzinfo=UTC),
        already_accepted=already_accepted,
    )


def order_out(order: Any, account_id: str = "") -> OrderOut:
    return OrderOut(
        id=order.order_id,
        program_id=order.program_id,
        program_version=order.program_version,
        price=_money(order.price),
        status=_ORDER_STATUSES[order.status],
        checkout_url=order.checkout_url,
        promotion_code=order.promotion_code or None,
        created_at=order.created_at.ToDatetime(tzinfo=UTC),
        account_id=account_id or None,
        reset_account_id=order.reset_account_id or None,
        billing=order.billing or "one_time",
    )


def account_out(account: Any) -> AccountOut:
    return AccountOut(
        id=account.account_id,
        user_id=account.user_id,
        order_id=account.order_id,
        program_id=account.program_id,
        program_version=account.program_version,
        status=ACCOUNT_STATUSES[account.status],
        phases=[PhaseOut(kind=_PHASES[p.kind], rule_set=json.loads(p.rule_set_json)) for p in account.phases],
        attempts=[
            AttemptOut(
                number=a.number,
                phase=_PHASES[a.phase],
                started_at=a.started_at.ToDatetime(tzinfo=UTC),
                ended_at=a.ended_at.ToDatetime(tzinfo=UTC) if a.HasField("ended_at") else None,
                outcome=a.outcome or None,
                failed_rule=a.failed_rule or None,
            )
            for a in account.attempts
        ],
        platform_login=account.platform_login or None,
        failed_rule=account.failed_rule or None,
        created_at=account.created_at.ToDatetime(tzinfo=UTC),
        reset_fee=_money(account.reset_fee) if account.HasField("reset_fee") else None,
        free_retries=account.free_retries,
        free_retries_left=account.free_retries_left,
        scaling_plan=scaling_plan_out(account.scaling_plan),
        account_size=_money(account.account_size) if account.HasField("account_size") else None,
        payouts_counted=account.payouts_counted,
        scale_steps=[
            ScaleStepOut(
                step=s.step,
                from_size=_money(s.from_size),
                to_size=_money(s.to_size),
                payouts=s.payouts,
                payout_id=s.payout_id,
                taken_at=s.taken_at.ToDatetime(tzinfo=UTC),
            )
            for s in account.scale_steps
        ],
        billing=account.billing or "one_time",
        paid_through=account.paid_through.ToDatetime(tzinfo=UTC) if account.HasField("paid_through") else None,
        grace_until=account.grace_until.ToDatetime(tzinfo=UTC) if account.HasField("grace_until") else None,
        subscription_status=account.subscription_status or None,
        subscription_cancel_at=account.subscription_cancel_at.ToDatetime(tzinfo=UTC)
        if account.HasField("subscription_cancel_at")
        else None,
    )
