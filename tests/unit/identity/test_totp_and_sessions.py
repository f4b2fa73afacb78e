"""TOTP against pyotp (RFC 6238), replay refusal, recovery codes, and the refresh-token family verdicts."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pyotp
from hypothesis import given
from hypothesis import strategies as st

from services.identity.domain.sessions import RefreshTokenState, RefreshVerdict, judge_refresh
from services.identity.domain.totp import (
    code_for_step,
    matching_step,
    new_recovery_codes,
    new_secret,
    normalise_recovery_code,
    step_at,
)

NOW = datetime(2026, 11, 24, 12, 0, 7, tzinfo=UTC)


@given(st.integers(0, 253_402_300_799 // 30))  # pyotp accepts instants up to the year 9999
def test_codes_match_pyotp_for_any_step(step):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    assert code_for_step(secret, step) == pyotp.TOTP(secret).at(step * 30)


def test_a_code_is_accepted_within_one_step_of_drift_and_once_only():
    secret = new_secret()
    now_step = step_at(NOW)
    for drift in (-1, 0, 1):
        assert matching_step(secret, code_for_step(secret, now_step + drift), NOW, None) == now_step + drift
    assert matching_step(secret, code_for_step(secret, now_step + 2), NOW, None) is None
    assert matching_step(secret, code_for_step(secret, now_step), NOW, last_used_step=now_step) is None
    assert matching_step(secret, "12345", NOW, None) is None and matching_step(secret, "abcdef", NOW, None) is None


def test_recovery_codes_are_distinct_and_normalise_for_typing():
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    assert normalise_recovery_code(codes[0].lower().replace("-", " ")) == codes[0].replace("-", "")


def token(**changes) -> RefreshTokenState:
    values = dict(
        token_hash="h",
        family_id=uuid4(),
        user_id=uuid4(),
        expires_at=NOW + timedelta(days=1),
        rotated_at=None,
        revoked_at=None,
        family_revoked=False,
    )
    values.update(changes)
    return RefreshTokenState(**values)


def test_refresh_verdicts():
    assert judge_refresh(token(), NOW) is RefreshVerdict.ROTATE
    assert judge_refresh(token(rotated_at=NOW), NOW) is RefreshVerdict.REUSE_DETECTED
    assert judge_refresh(token(expires_at=NOW), NOW) is RefreshVerdict.EXPIRED
    assert judge_refresh(token(family_revoked=True, rotated_at=NOW), NOW) is RefreshVerdict.REVOKED
    assert judge_refresh(token(revoked_at=NOW), NOW) is RefreshVerdict.REVOKED


def test_a_routine_rotation_publishes_first_and_an_emergency_one_withdraws_at_once():
    from services.identity.domain.signing_keys import PUBLISH_LEAD, SigningKey, plan_rotation

    routine = plan_rotation(NOW, emergency=False)
    assert routine.new_key_activates_at == routine.old_key_retires_at == NOW + PUBLISH_LEAD
    old = SigningKey(
        "old", "ES256", "x", {}, NOW - timedelta(days=1), NOW - timedelta(days=1), routine.old_key_retires_at
    )
    new = SigningKey("new", "ES256", "x", {}, NOW, routine.new_key_activates_at)
    assert old.signs_at(NOW) and not new.signs_at(NOW) and new.published_at(NOW)
    assert new.signs_at(NOW + PUBLISH_LEAD) and not old.signs_at(NOW + PUBLISH_LEAD)
    assert old.published_at(NOW + PUBLISH_LEAD + timedelta(minutes=19))
    assert not old.published_at(NOW + PUBLISH_LEAD + timedelta(minutes=21))
    emergency = plan_rotation(NOW, emergency=True)
    withdrawn = SigningKey("old", "ES256", "x", {}, NOW, NOW, emergency.old_key_retires_at)
    assert emergency.new_key_activates_at == NOW and not withdrawn.published_at(NOW)
