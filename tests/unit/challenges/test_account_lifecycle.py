"""The trading account's lifecycle: every allowed and every refused transition, resets and their history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.domain.errors import FailedPrecondition, InvalidTransition
from libs.domain.ids import ProgramId
from services.challenges.domain.account import (
    TRANSITIONS,
    AccountActivated,
    AccountStatus,
    FundingEligibility,
    PhaseSnapshot,
    PlatformAccount,
    TradingAccount,
    ensure_transition,
)
from tests.unit.challenges.factories import rule_set

S = AccountStatus
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
ELIGIBLE = FundingEligibility(kyc_approved=True, agreement_accepted=True)


def new_account(kinds=("phase_1", "phase_2", "funded")) -> TradingAccount:
    return TradingAccount.for_paid_order(
        account_id=uuid4(),
        order_id=uuid4(),
        user_id="user-1",
        user_email="t@example.com",
        program_id=ProgramId("eval-50k"),
        program_version_id=uuid4(),
        program_version=1,
        phases=[PhaseSnapshot(k, rule_set()) for k in kinds],
        at=T0,
    )


def account_in(status: AccountStatus) -> TradingAccount:
    """Reach each status through the commands alone, as production would."""
    account = new_account()
    if status is S.PENDING_PAYMENT:
        account.status = S.PENDING_PAYMENT  # only a freshly built account is here; for_paid_order moves it on
        return account
    if status is S.PROVISIONING:
        return account
    account.provisioned(PlatformAccount("u1", "a1", "login1"), T0)
    steps = {
        S.PHASE_1: [],
        S.PHASE_2: [lambda a: a.phase_passed("phase_1", T0)],
        S.PASSED: [lambda a: a.phase_passed("phase_1", T0), lambda a: a.phase_passed("phase_2", T0)],
        S.FUNDED: [
            lambda a: a.phase_passed("phase_1", T0),
            lambda a: a.phase_passed("phase_2", T0),
            lambda a: a.fund(ELIGIBLE, T0),
        ],
        S.FAILED: [lambda a: a.breach("daily_loss", T0)],
        S.SUSPENDED: [lambda a: a.suspend("chargeback", T0)],
        S.CLOSED: [lambda a: a.close("refunded", T0)],
    }[status]
    for step in steps:
        step(account)
    assert account.status is status
    return account


def test_a_paid_order_gives_an_account_in_provisioning_with_the_exact_rule_sets():
    account = new_account()
    assert account.status is S.PROVISIONING
    assert json.dumps(dict(account.phases[0].rule_set), sort_keys=True) == json.dumps(rule_set(), sort_keys=True)
    assert account.pull_events() == []  # nobody outside knows the account yet: nothing to announce


def test_the_snapshot_is_a_copy_so_a_later_edit_of_the_source_cannot_reach_it():
    source = rule_set()
    account = TradingAccount.for_paid_order(
        account_id=uuid4(),
        order_id=uuid4(),
        user_id="u",
        user_email="e@x.com",
        program_id=ProgramId("eval-50k"),
        program_version_id=uuid4(),
        program_version=1,
        phases=[PhaseSnapshot("phase_1", source)],
        at=T0,
    )
    source["start_balance"] = "1.00"
    assert account.phases[0].rule_set["start_balance"] == "50000.00"


def test_provisioning_starts_attempt_one_and_announces_the_phase_1_rule_set():
    account = new_account()
    account.pull_events()
    account.provisioned(PlatformAccount("ypf-u", "ypf-a", "L100"), T0)
    assert account.status is S.PHASE_1
    assert [a.number for a in account.attempts] == [1]
    (activated,) = account.pull_events()  # the activation says the phase: no separate status change
    assert isinstance(activated, AccountActivated) and activated.phase == "phase_1"
    assert activated.rule_set == rule_set() and activated.platform_account_id == "ypf-a"


def test_leaving_an_active_phase_is_announced_as_a_status_change_naming_both_states():
    account = account_in(S.PHASE_1)
    account.pull_events()
    account.breach("daily_loss", T0)
    (changed,) = account.pull_events()
    assert (changed.previous, changed.status, changed.attempt) == ("phase_1", "failed", 1)


def test_two_phase_program_walks_to_funded_only_with_kyc_and_agreement():
    account = account_in(S.PASSED)
    with pytest.raises(FailedPrecondition) as kyc:
        account.fund(FundingEligibility(kyc_approved=False, agreement_accepted=True), T0)
    assert kyc.value.reason == "KYC_NOT_APPROVED"
    with pytest.raises(FailedPrecondition) as agreement:
        account.fund(FundingEligibility(kyc_approved=True, agreement_accepted=False), T0)
    assert agreement.value.reason == "AGREEMENT_NOT_ACCEPTED"
    assert account.status is S.PASSED
    account.fund(ELIGIBLE, T0)
    assert account.status is S.FUNDED


def test_one_step_program_goes_from_phase_1_straight_to_passed():
    account = new_account(kinds=("phase_1", "funded"))
    account.provisioned(PlatformAccount("u", "a", "l"), T0)
    account.phase_passed("phase_1", T0)
    assert account.status is S.PASSED


def test_a_repeated_phase_passed_report_is_refused_naming_the_current_status():
    account = account_in(S.PHASE_2)
    with pytest.raises(InvalidTransition) as refused:
        account.phase_passed("phase_1", T0)
    assert refused.value.metadata["current_state"] == "phase_2"
    assert "phase_2" in refused.value.message


def test_breach_fails_the_attempt_naming_the_rule_and_reset_keeps_it_in_history():
    account = account_in(S.PHASE_1)
    account.breach("max_drawdown", T0 + timedelta(hours=1))
    account.reset(T0 + timedelta(hours=2))
    assert account.status is S.PHASE_1
    first, second = account.attempts
    assert (first.outcome, first.failed_rule, first.ended_at) == ("failed", "max_drawdown", T0 + timedelta(hours=1))
    assert (second.number, second.outcome, second.ended_at) == (2, None, None)


def test_reset_of_an_account_failed_for_fraud_is_refused_with_the_reason():
    account = account_in(S.PHASE_1)
    account.breach("fraud", T0)
    with pytest.raises(FailedPrecondition) as refused:
        account.reset(T0)
    assert refused.value.reason == "FAILED_FOR_FRAUD"
    assert account.status is S.FAILED and len(account.attempts) == 1


@pytest.mark.parametrize("status", [S.PASSED, S.FUNDED, S.SUSPENDED, S.CLOSED, S.PROVISIONING])
def test_reset_is_refused_outside_evaluation_or_failure(status):
    account = account_in(status)
    with pytest.raises(InvalidTransition) as refused:
        account.reset(T0)
    assert refused.value.metadata["current_state"] == status.value


@pytest.mark.parametrize("status", [S.PHASE_1, S.PHASE_2, S.PASSED, S.FUNDED])
def test_suspension_returns_to_exactly_where_it_was(status):
    account = account_in(status)
    account.suspend("chargeback opened", T0)
    account.reinstate("dispute won", T0)
    assert account.status is status and account.suspended_from is None


def test_reinstating_an_account_that_is_not_suspended_is_refused():
    account = account_in(S.PHASE_1)
    with pytest.raises(InvalidTransition) as refused:
        account.reinstate("why", T0)
    assert refused.value.metadata["current_state"] == "phase_1"


ALL_PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p[1] not in TRANSITIONS[p[0]]])
def test_every_transition_outside_the_table_is_refused_naming_the_current_status(current, target):
    with pytest.raises(InvalidTransition) as refused:
        ensure_transition(current, target)
    assert refused.value.metadata == {"current_state": current.value, "requested_state": target.value}


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p[1] in TRANSITIONS[p[0]]])
def test_every_transition_in_the_table_is_allowed(current, target):
    ensure_transition(current, target)


def test_closed_is_final_and_nothing_leaves_it():
    assert TRANSITIONS[S.CLOSED] == frozenset()
    account = account_in(S.CLOSED)
    for command in (
        lambda a: a.breach("x", T0),
        lambda a: a.suspend("x", T0),
        lambda a: a.reset(T0),
        lambda a: a.fund(ELIGIBLE, T0),
        lambda a: a.close("x", T0),
        lambda a: a.phase_passed("phase_1", T0),
    ):
        with pytest.raises(InvalidTransition):
            command(account)
    assert account.status is S.CLOSED


COMMANDS = {
    "provisioned": lambda a: a.provisioned(PlatformAccount("u", "a", "l"), T0),
    "breach": lambda a: a.breach("daily_loss", T0),
    "phase_1_passed": lambda a: a.phase_passed("phase_1", T0),
    "phase_2_passed": lambda a: a.phase_passed("phase_2", T0),
    "fund": lambda a: a.fund(ELIGIBLE, T0),
    "suspend": lambda a: a.suspend("x", T0),
    "reinstate": lambda a: a.reinstate("x", T0),
    "reset": lambda a: a.reset(T0),
    "close": lambda a: a.close("x", T0),
}


@given(st.lists(st.sampled_from(sorted(COMMANDS)), max_size=25))
def test_any_sequence_of_commands_keeps_the_account_consistent(names):
    """Whatever arrives in whatever order: each command either applies a table transition or is refused and changes
    nothing; attempts are numbered 1..n with at most the last one open."""
    account = new_account()
    for name in names:
        before = (account.status, account.attempts, account.version)
        try:
            COMMANDS[name](account)
        except (InvalidTransition, FailedPrecondition):
            assert (account.status, account.attempts, account.version) == before
            continue
        assert account.status in TRANSITIONS[before[0]]
    assert [a.number for a in account.attempts] == list(range(1, len(account.attempts) + 1))
    assert all(a.ended_at is not None for a in account.attempts[:-1])


def test_an_overturned_breach_reopens_the_failed_attempt_in_its_phase():
    account = account_in(S.PHASE_2)
    account.breach("daily_loss", T0 + timedelta(hours=1))
    account.pull_events()
    account.breach_overturned("daily_loss", T0 + timedelta(hours=2))
    assert account.status is S.PHASE_2 and account.failed_rule is None
    current = account.current_attempt
    assert (current.phase, current.outcome, current.ended_at, current.failed_rule) == ("phase_2", None, None, None)
    [announced] = account.pull_events()
    assert (announced.previous, announced.status) == ("failed", "phase_2")


@pytest.mark.parametrize("status", [S.PHASE_1, S.PASSED, S.SUSPENDED, S.CLOSED])
def test_only_a_failed_account_can_have_its_breach_overturned(status):
    account = account_in(status)
    with pytest.raises(InvalidTransition) as refused:
        account.breach_overturned("daily_loss", T0)
    assert refused.value.metadata["current_state"] == status.value


def test_an_overturn_naming_another_rule_or_after_a_reset_is_refused():
    account = account_in(S.PHASE_1)
    account.breach("max_loss", T0)
    with pytest.raises(InvalidTransition):
        account.breach_overturned("daily_loss", T0)
    account.reset(T0 + timedelta(hours=1))
    account.breach("max_loss", T0 + timedelta(hours=2))
    account.close("refunded", T0 + timedelta(hours=3))
    with pytest.raises(InvalidTransition):
        account.breach_overturned("max_loss", T0 + timedelta(hours=4))
