"""Throttling policy: free attempts, doubling delays, lockout, and the larger of the account and IP waits."""

from hypothesis import given
from hypothesis import strategies as st

from services.identity.domain.throttling import ACCOUNT_POLICY, IP_POLICY, retry_after


def test_the_account_policy_step_by_step():
    waits = [ACCOUNT_POLICY.required_wait(n) for n in range(0, 12)]
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 900, 900]


def test_the_wait_shrinks_as_time_passes_and_is_rounded_up():
    assert ACCOUNT_POLICY.wait_seconds(7, 0) == 4
    assert ACCOUNT_POLICY.wait_seconds(7, 2.5) == 2
    assert ACCOUNT_POLICY.wait_seconds(7, 4) == 0


@given(st.integers(0, 200), st.integers(0, 200))
def test_more_failures_never_mean_a_shorter_required_wait(a, b):
    low, high = sorted((a, b))
    for policy in (ACCOUNT_POLICY, IP_POLICY):
        assert policy.required_wait(low) <= policy.required_wait(high)


@given(st.integers(0, 200), st.floats(0, 5000), st.integers(0, 200), st.floats(0, 5000))
def test_the_answer_is_the_longer_of_the_two_waits(af, aidle, ipf, ipidle):
    assert retry_after(af, aidle, ipf, ipidle) == max(
        ACCOUNT_POLICY.wait_seconds(af, aidle), IP_POLICY.wait_seconds(ipf, ipidle)
    )
