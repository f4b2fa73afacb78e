"""Resets, free retries and scaling plans in the domain (ADR 0054): the program terms, refusals naming the bad field,
step selection, the rescaled rule set, and the account's free retries and payouts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.domain.errors import FailedPrecondition, InvalidArgument, InvalidTransition
from libs.domain.ids import ProgramId
from libs.domain.money import Money
from services.challenges.domain.account import (
    AccountScaled,
    AccountStatus,
    FundingEligibility,
    NoFreeRetryLeft,
    PhaseSnapshot,
    PlatformAccount,
    TradingAccount,
)
from services.challenges.domain.program import build_terms
from services.challenges.domain.rule_set import validate_rule_set
from services.challenges.domain.scaling import (
    ScalingStep,
    next_step,
    plan_from_json,
    plan_to_json,
    scale_rule_set,
    validate_scaling_plan,
)
from tests.unit.challenges.factories import rule_set, terms_kwargs

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
SIZE = Money.of("50000.00")
PLAN = (ScalingStep(2, Money.of("75000.00")), ScalingStep(4, Money.of("100000.00")))


def usd(amount) -> Money:
    return Money.of(str(amount))


# -- program terms ------------------------------------------------------------------------------------------------


def test_terms_carry_the_reset_fee_free_retries_and_scaling_plan():
    terms = build_terms(**terms_kwargs(reset_fee=usd("99.00"), free_retries=1, scaling_plan=PLAN))
    assert (terms.reset_fee, terms.free_retries, terms.scaling_plan) == (usd("99.00"), 1, PLAN)
    bought = terms.bought()
    assert (bought.account_size, bought.reset_fee, bought.free_retries, bought.scaling_plan) == (
        SIZE,
        usd("99.00"),
        1,
        PLAN,
    )


def test_no_reset_fee_means_no_resets_and_the_defaults_are_none_of_either():
    terms = build_terms(**terms_kwargs())
    assert (terms.reset_fee, terms.free_retries, terms.scaling_plan) == (None, 0, ())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"reset_fee": usd("0")}, "reset_fee"),
        ({"reset_fee": usd("-5")}, "reset_fee"),
        ({"reset_fee": Money.of("99.00", "EUR")}, "reset_fee"),
        ({"free_retries": -1}, "free_retries"),
        ({"free_retries": 6}, "free_retries"),
        ({"free_retries": True}, "free_retries"),
        ({"scaling_plan": (ScalingStep(2, usd("50000.00")),)}, "scaling_plan[0].account_size"),
        ({"scaling_plan": (ScalingStep(0, usd("75000.00")),)}, "scaling_plan[0].after_payouts"),
        ({"scaling_plan": (ScalingStep(2, usd("75000.00")), ScalingStep(2, usd("100000.00")))}, "scaling_plan[1].after_payouts"),  # noqa: E501
        ({"scaling_plan": (ScalingStep(2, usd("75000.00")), ScalingStep(4, usd("75000.00")))}, "scaling_plan[1].account_size"),  # noqa: E501
        ({"scaling_plan": (ScalingStep(2, Money.of("75000.00", "EUR")),)}, "scaling_plan[0].account_size"),
    ],
)  # fmt: skip
def test_bad_terms_are_refused_naming_the_field(overrides, field):
    with pytest.raises(InvalidArgument) as refused:
        build_terms(**terms_kwargs(**overrides))
    assert refused.value.field == field


def test_a_scaling_plan_needs_a_funded_phase():
    evaluation_only = [("phase_1", rule_set()), ("phase_2", rule_set())]
    with pytest.raises(InvalidArgument) as refused:
        build_terms(**terms_kwargs(phases=evaluation_only, scaling_plan=PLAN))
    assert refused.value.field == "scaling_plan"
    assert build_terms(**terms_kwargs(phases=evaluation_only)).scaling_plan == ()


plans = st.lists(
    st.tuples(st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=50_000)),
    min_size=1,
    max_size=8,
)


def increasing(raw: list[tuple[int, int]]) -> tuple[ScalingStep, ...]:
    """Turn positive increments into a valid plan: thresholds and sizes strictly increasing above SIZE."""
    steps, payouts, size = [], 0, SIZE.amount
    for payout_gap, size_gap in raw:
        payouts, size = payouts + payout_gap, size + size_gap
        steps.append(ScalingStep(payouts, Money(size.quantize(Decimal("0.01")), SIZE.currency)))
    return tuple(steps)


@given(plans)
def test_every_strictly_increasing_plan_is_valid_and_survives_its_stored_form(raw):
    plan = increasing(raw)
    assert validate_scaling_plan(plan, account_size=SIZE, has_funded_phase=True) == plan
    assert plan_from_json(plan_to_json(plan)) == plan


@given(plans.filter(lambda raw: len(raw) >= 2), st.data())
def test_a_plan_out_of_order_is_refused_naming_the_first_bad_step(raw, data):
    plan = list(increasing(raw))
    i = data.draw(st.integers(min_value=1, max_value=len(plan) - 1))
    plan[i - 1], plan[i] = plan[i], plan[i - 1]
    with pytest.raises(InvalidArgument) as refused:
        validate_scaling_plan(plan, account_size=SIZE, has_funded_phase=True)
    assert refused.value.field == f"scaling_plan[{i}].after_payouts"


@given(plans, st.integers(min_value=0, max_value=60))
def test_steps_are_taken_one_at_a_time_in_order_up_to_the_last_one_due(raw, payouts):
    plan = increasing(raw)
    size, taken = SIZE, []
    while (due := next_step(plan, payouts, size)) is not None:
        number, step = due
        taken.append(number)
        size = step.account_size
    due_steps = [n for n, s in enumerate(plan, start=1) if s.after_payouts <= payouts]
    assert taken == due_steps
    assert size == (plan[due_steps[-1] - 1].account_size if due_steps else SIZE)


def test_the_rule_set_scales_in_proportion_and_stays_valid():
    bought = rule_set()
    scaled = scale_rule_set(bought, SIZE, usd("75000.00"))
    validate_rule_set(scaled, "rule_set")
    assert scaled["start_balance"] == "75000.00"
    assert scaled["drawdown"]["max_loss"] == "3750.00" and scaled["drawdown"]["lock"]["amount"] == "150.00"
    assert scaled["daily_loss_limit"]["amount"] == "1500.00"
    assert scaled["daily_loss_limit"]["steps"] == [{"eod_balance_at_least": "79500.00", "amount": "3000.00"}]
    assert scaled["profit_target"] == {"amount": "4500.00"}
    assert scaled["max_contracts"]["limit"] == "7"  # 7.5 rounded down to whole contracts
    assert scaled["max_contracts"]["scaling"] == [{"eod_balance_above": "78000.00", "limit": "12"}]
    assert bought["start_balance"] == "50000.00"  # the snapshot itself is never changed


# -- the account --------------------------------------------------------------------------------------------------


def account_with(*, free_retries: int = 1, plan=PLAN, reset_fee: Money | None = usd("99.00")) -> TradingAccount:
    terms = build_terms(**terms_kwargs(reset_fee=reset_fee, free_retries=free_retries, scaling_plan=plan))
    account = TradingAccount.for_paid_order(
        account_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        user_id="trader-1",
        user_email="t@example.test",
        program_id=ProgramId("eval-50k"),
        program_version_id=uuid.uuid4(),
        program_version=2,
        phases=[PhaseSnapshot(p.kind.value, p.rule_set) for p in terms.phases],
        at=T0,
        terms=terms.bought(),
    )
    account.provisioned(PlatformAccount("u1", "acc1", "login1"), T0)
    account.pull_events()
    return account


def funded(**kwargs) -> TradingAccount:
    account = account_with(**kwargs)
    account.phase_passed("phase_1", T0)
    account.phase_passed("phase_2", T0)
    account.fund(FundingEligibility(kyc_approved=True, agreement_accepted=True), T0)
    account.pull_events()
    return account


def test_a_free_retry_is_a_new_attempt_like_a_paid_reset_and_is_used_once():
    account = account_with(free_retries=1)
    account.breach("daily_loss", T0)
    account.pull_events()
    account.free_retry(T0)
    assert account.status is AccountStatus.PHASE_1 and account.free_retries_left == 0
    assert [(a.number, a.outcome) for a in account.attempts] == [(1, "failed"), (2, None)]
    (activated,) = account.pull_events()
    assert activated.event_type == "AccountActivated" and activated.attempt == 2
    account.breach("daily_loss", T0)
    with pytest.raises(NoFreeRetryLeft) as refused:
        account.free_retry(T0)
    assert refused.value.reason == "NO_FREE_RETRY_LEFT"
    assert account.status is AccountStatus.FAILED and len(account.attempts) == 2  # nothing changed


def test_a_free_retry_is_refused_for_fraud_and_for_an_account_that_has_not_failed():
    running = account_with(free_retries=1)
    with pytest.raises(InvalidTransition):
        running.free_retry(T0)
    fraud = account_with(free_retries=1)
    fraud.breach("fraud", T0)
    with pytest.raises(FailedPrecondition) as refused:
        fraud.free_retry(T0)
    assert refused.value.reason == "FAILED_FOR_FRAUD" and fraud.free_retries_left == 1


def test_payouts_step_the_funded_account_up_in_order_each_announced_with_the_rule_set_at_the_new_size():
    account = funded()
    assert account.record_payout("po-1", T0) == () and account.payouts_counted == 1
    (first,) = account.record_payout("po-2", T0)
    assert (first.number, first.from_size, first.to_size, first.payouts) == (1, SIZE, usd("75000.00"), 2)
    (event,) = account.pull_events()
    assert isinstance(event, AccountScaled)
    assert (event.account_size, event.previous_size, event.step, event.phase) == ("75000.00", "50000.00", 1, "funded")
    assert event.rule_set["start_balance"] == "75000.00" and event.platform_account_id == "acc1"
    assert account.record_payout("po-3", T0) == ()
    (second,) = account.record_payout("po-4", T0)
    assert (second.number, second.to_size) == (2, usd("100000.00"))
    assert account.account_size == usd("100000.00") and [s.number for s in account.scale_steps] == [1, 2]
    assert account.record_payout("po-5", T0) == ()  # the plan is done


def test_steps_reached_while_suspended_are_taken_in_order_at_the_next_payout():
    account = funded()
    account.suspend("review", T0)
    for n in range(4):
        assert account.record_payout(f"po-{n}", T0) == ()
    account.reinstate("cleared", T0)
    taken = account.record_payout("po-5", T0)
    assert [s.number for s in taken] == [1, 2] and account.account_size == usd("100000.00")


def test_a_payout_for_an_account_without_a_funded_run_is_refused_and_changes_nothing():
    account = account_with()
    with pytest.raises(FailedPrecondition) as refused:
        account.record_payout("po-1", T0)
    assert refused.value.reason == "NOT_FUNDED" and account.payouts_counted == 0


def test_a_reset_after_a_funded_failure_starts_again_at_the_size_bought():
    account = funded()
    account.record_payout("po-1", T0)
    account.record_payout("po-2", T0)
    account.breach("max_drawdown", T0)
    account.reset(T0)
    assert account.account_size == SIZE and account.payouts_counted == 0
    assert account.scale_steps[0].to_size == usd("75000.00")  # the history stays
