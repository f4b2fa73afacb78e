"""The gateway's authorization rules on verified claims: staff need TOTP, roles, MFA, step-up freshness."""

from __future__ import annotations

import time

import pytest

from gateway.auth import require_mfa, require_role, require_step_up, signed_in
from libs.domain.errors import PermissionDenied
from libs.platform.auth import Claims


def claims(role: str = "trader", amr: tuple[str, ...] = ("pwd",), mfa_at: int | None = None) -> Claims:
    now = int(time.time())
    return Claims("u-1", role, "s-1", now, now + 900, amr, mfa_at, "token")


@pytest.mark.parametrize("role", ["support", "admin"])
async def test_staff_without_totp_are_refused_and_told_to_enrol(role):
    with pytest.raises(PermissionDenied) as refused:
        await signed_in(claims(role))
    assert refused.value.reason == "MFA_REQUIRED"
    assert (await signed_in(claims(role, ("pwd", "otp")))).role == role


async def test_a_trader_needs_no_totp_for_ordinary_routes():
    assert (await signed_in(claims("trader"))).role == "trader"


async def test_require_role_admits_only_the_named_roles():
    staff = require_role("support", "admin")
    assert (await staff(claims("support", ("otp",)))).role == "support"
    with pytest.raises(PermissionDenied):
        await staff(claims("trader", ("otp",)))
    with pytest.raises(PermissionDenied):
        await require_role("admin")(claims("support", ("otp",)))


async def test_require_mfa_applies_to_traders_too():
    with pytest.raises(PermissionDenied) as refused:
        await require_mfa(claims("trader"))
    assert refused.value.reason == "MFA_REQUIRED"
    assert await require_mfa(claims("trader", ("pwd", "otp")))


async def test_step_up_needs_a_totp_checked_within_the_window():
    guard = require_step_up(300)
    now = int(time.time())
    assert await guard(claims("trader", ("pwd", "otp"), mfa_at=now - 60))
    with pytest.raises(PermissionDenied) as stale:
        await guard(claims("trader", ("pwd", "otp"), mfa_at=now - 301))
    assert stale.value.reason == "STEP_UP_REQUIRED" and stale.value.metadata["max_age_seconds"] == "300"
    with pytest.raises(PermissionDenied):
        await guard(claims("trader", ("pwd", "otp"), mfa_at=None))
