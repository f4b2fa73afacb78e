"""The user's status machine and its refusals."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.domain.errors import FailedPrecondition, InvalidArgument, InvalidTransition
from services.identity.domain.user import TRANSITIONS, Role, User, UserStatus, normalise_email

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
ACTIONS = ("verify", "suspend", "reinstate", "terminate")


def new_user() -> User:
    return User.register(uuid4(), "Trader@Example.COM ", AT)


def act(user: User, action: str) -> None:
    if action == "verify":
        user.verify_email(AT)
    else:
        getattr(user, action)("because", AT)


def test_a_new_user_is_pending_with_a_normalised_email_and_an_event():
    user = new_user()
    assert (user.status, user.email, user.role, user.kyc_status.value) == (
        UserStatus.PENDING_VERIFICATION,
        "trader@example.com",
        Role.TRADER,
        "not_started",
    )
    assert [e.event_type for e in user.pull_events()] == ["UserRegistered"]


@given(st.lists(st.sampled_from(ACTIONS), max_size=8))
def test_every_sequence_of_actions_follows_the_table_or_is_refused_without_change(actions):
    user = new_user()
    for action in actions:
        before = (user.status, user.version)
        expected = TRANSITIONS.get((user.status, action))
        if expected is None:
            with pytest.raises(InvalidTransition):
                act(user, action)
            assert (user.status, user.version) == before
        else:
            act(user, action)
            assert user.status is expected and user.version == before[1] + 1


def test_termination_is_final_and_a_terminated_role_cannot_change():
    user = new_user()
    user.verify_email(AT)
    user.terminate("fraud", AT)
    for action in ACTIONS:
        with pytest.raises(InvalidTransition):
            act(user, action)
    with pytest.raises(FailedPrecondition):
        user.change_role(Role.ADMIN, AT)


def test_suspension_needs_a_reason():
    user = new_user()
    user.verify_email(AT)
    with pytest.raises(InvalidArgument) as info:
        user.suspend("   ", AT)
    assert info.value.field == "reason" and user.status is UserStatus.ACTIVE


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com", "x" * 321])
def test_malformed_emails_are_refused(bad):
    with pytest.raises(InvalidArgument):
        normalise_email(bad)
