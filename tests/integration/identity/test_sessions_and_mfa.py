"""Sessions, MFA, staff controls, key rotation and tax profiles through the use cases, over real PostgreSQL/Redis."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest
from sqlalchemy import select

from libs.domain.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unauthenticated
from libs.platform.mailbox import read_mailbox
from services.identity.adapters.sql import tables as t
from services.identity.application.change_role import ChangeRole
from services.identity.application.common import SYSTEM_ACTOR_ID, Actor
from services.identity.application.complete_mfa_login import CompleteMfaLogin
from services.identity.application.confirm_totp import ConfirmTotp
from services.identity.application.enroll_totp import EnrollTotp
from services.identity.application.get_me import GetMe
from services.identity.application.get_tax_profile import GetTaxProfile
from services.identity.application.list_login_events import ListLoginEvents
from services.identity.application.list_users import ListUsers
from services.identity.application.login import Login
from services.identity.application.logout import Logout
from services.identity.application.logout_everywhere import LogoutEverywhere
from services.identity.application.reinstate_user import ReinstateUser
from services.identity.application.rotate_signing_key import RotateSigningKey
from services.identity.application.set_ip_allow_list import SetIpAllowList
from services.identity.application.set_tax_profile import SetTaxProfile
from services.identity.application.step_up import StepUp
from services.identity.application.suspend_user import SuspendUser
from services.identity.domain.tax_profile import TaxForm
from services.identity.domain.user import Role
from tests.integration.identity.conftest import PASSWORD, active_user, actor_for, client, signed_in

ADMIN = Actor(actor_id=str(uuid.uuid4()), role="admin", ip="192.0.2.1", has_mfa=True)


def code_in(secret: str, steps_ahead: int) -> str:
    """A code for a later 30-second step (within the accepted drift): the current step may be spent already."""
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * steps_ahead))


async def enrol_totp(identity, actor) -> tuple[str, list[str]]:
    provisioning = await identity.use_cases.enroll_totp(EnrollTotp(actor=actor))
    assert provisioning.provisioning_uri.startswith("otpauth://totp/Dynasty%20Futures")
    codes = await identity.use_cases.confirm_totp(
        ConfirmTotp(actor=actor, totp_code=pyotp.TOTP(provisioning.secret).now())
    )
    return provisioning.secret, codes


async def test_with_totp_a_login_needs_a_second_factor_and_a_recovery_code_works_once(
    identity, mail_dir, verifier, unique
):
    user, session = await signed_in(identity, mail_dir, f"mfa-{unique}@example.com")
    secret, recovery = await enrol_totp(identity, actor_for(user, session))
    assert len(recovery) == 10
    assert (await identity.use_cases.get_me(GetMe(actor=actor_for(user)))).mfa_enabled

    challenge = await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
    assert challenge.mfa_required and challenge.session is None
    with pytest.raises(Unauthenticated) as wrong:
        await identity.use_cases.complete_mfa_login(CompleteMfaLogin(challenge.mfa_token, "000000", "", client()))
    assert wrong.value.reason == "INVALID_MFA_CODE"
    tokens = await identity.use_cases.complete_mfa_login(
        CompleteMfaLogin(challenge.mfa_token, code_in(secret, 1), "", client())
    )
    claims = await verifier.verify(tokens.access_token)
    assert claims.amr == ("pwd", "otp") and claims.mfa_at is not None
    with pytest.raises(Unauthenticated):  # the challenge is spent
        await identity.use_cases.complete_mfa_login(
            CompleteMfaLogin(challenge.mfa_token, code_in(secret, 1), "", client())
        )

    again = await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
    assert again.mfa_required
    await identity.use_cases.complete_mfa_login(CompleteMfaLogin(again.mfa_token, "", recovery[0].lower(), client()))
    third = await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
    with pytest.raises(Unauthenticated):
        await identity.use_cases.complete_mfa_login(CompleteMfaLogin(third.mfa_token, "", recovery[0], client()))


async def test_step_up_issues_a_token_with_a_fresh_mfa_claim_for_the_same_session(identity, mail_dir, verifier, unique):
    user, session = await signed_in(identity, mail_dir, f"stepup-{unique}@example.com")
    secret, _ = await enrol_totp(identity, actor_for(user, session))
    token = await identity.use_cases.step_up(StepUp(actor=actor_for(user, session), totp_code=code_in(secret, 1)))
    claims = await verifier.verify(token.token)
    assert claims.session_id == str(session.session_id)
    assert claims.mfa_fresh_within(300)
    with pytest.raises(Unauthenticated):  # the same step again is a replay
        await identity.use_cases.step_up(StepUp(actor=actor_for(user, session), totp_code=code_in(secret, 1)))


async def test_staff_without_totp_get_a_session_without_otp_and_the_allow_list_binds_them(
    identity, mail_dir, verifier, unique
):
    user = await active_user(identity, mail_dir, f"staff-{unique}@example.com")
    await identity.use_cases.change_role(
        ChangeRole(actor=ADMIN, user_id=str(user.user_id), role=Role.SUPPORT, reason="joined support")
    )
    result = await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
    claims = await verifier.verify(result.session.access_token)
    assert claims.role == "support" and not claims.has_mfa

    cidrs = await identity.use_cases.set_ip_allow_list(
        SetIpAllowList(actor=ADMIN, user_id=str(user.user_id), cidrs=["203.0.113.9/24"])
    )
    assert cidrs == ["203.0.113.0/24"]
    with pytest.raises(PermissionDenied) as refused:
        await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
    assert refused.value.reason == "IP_NOT_ALLOWED"
    inside = await identity.use_cases.login(
        Login(email=user.email, password=PASSWORD, client=client(ip="203.0.113.50"))
    )
    assert inside.session is not None
    with pytest.raises(PermissionDenied):  # a trader's role cannot list users
        await identity.use_cases.list_users(ListUsers(actor=Actor(str(uuid.uuid4()), "trader")))
    with pytest.raises(PermissionDenied) as no_totp:  # nor can staff who signed in without TOTP
        await identity.use_cases.list_users(ListUsers(actor=Actor(str(user.user_id), "support", has_mfa=False)))
    assert no_totp.value.reason == "MFA_REQUIRED"
    with pytest.raises(FailedPrecondition):  # allow-lists are for staff
        trader = await active_user(identity, mail_dir, f"trader-{unique}@example.com")
        await identity.use_cases.set_ip_allow_list(SetIpAllowList(ADMIN, str(trader.user_id), ["10.0.0.0/8"]))


async def test_a_role_change_ends_the_users_sessions(identity, mail_dir, verifier, unique):
    user, session = await signed_in(identity, mail_dir, f"role-{unique}@example.com")
    await identity.use_cases.change_role(
        ChangeRole(actor=ADMIN, user_id=str(user.user_id), role=Role.ADMIN, reason="promoted")
    )
    with pytest.raises(Unauthenticated):
        await verifier.verify(session.access_token)
    with pytest.raises(PermissionDenied):
        await identity.use_cases.change_role(
            ChangeRole(actor=actor_for(user), user_id=str(user.user_id), role=Role.TRADER, reason="self")
        )


async def test_logout_and_logout_everywhere_end_the_sessions_they_name(identity, mail_dir, verifier, unique):
    user, first = await signed_in(identity, mail_dir, f"logout-{unique}@example.com")
    second = (await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))).session
    third = (await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))).session
    await identity.use_cases.logout(Logout(actor=actor_for(user), refresh_token=first.refresh_token))
    with pytest.raises(Unauthenticated):
        await verifier.verify(first.access_token)
    assert (await verifier.verify(second.access_token)).session_id == str(second.session_id)
    count = await identity.use_cases.logout_everywhere(LogoutEverywhere(actor=actor_for(user)))
    assert count == 2
    for session in (second, third):
        with pytest.raises(Unauthenticated):
            await verifier.verify(session.access_token)


async def test_reinstatement_lets_the_user_back_in_but_old_tokens_stay_dead(identity, mail_dir, verifier, unique):
    user, session = await signed_in(identity, mail_dir, f"reinstate-{unique}@example.com")
    await identity.use_cases.suspend_user(SuspendUser(ADMIN, str(user.user_id), "review"))
    reinstated = await identity.use_cases.reinstate_user(ReinstateUser(ADMIN, str(user.user_id), "cleared"))
    assert reinstated.status.value == "active" and reinstated.status_reason == "cleared"
    with pytest.raises(Unauthenticated):  # 401 now, not 403: sign in again
        await verifier.verify(session.access_token)
    with pytest.raises(FailedPrecondition):  # reinstating an active user is not a transition
        await identity.use_cases.reinstate_user(ReinstateUser(ADMIN, str(user.user_id), "again"))


async def test_a_routine_rotation_publishes_the_new_key_before_it_signs_and_old_tokens_keep_working(
    identity, mail_dir, verifier, unique
):
    user, before = await signed_in(identity, mail_dir, f"rotate-{unique}@example.com")
    system = Actor(SYSTEM_ACTOR_ID, "system")
    rotation = await identity.rotate_signing_key(RotateSigningKey(actor=system))
    if rotation.previous_kid is None:  # a key from an earlier rotation was still waiting: nothing to compare
        return
    assert rotation.activates_at > datetime.now(UTC)
    kids = {key["kid"] for key in (await identity.jwks())["keys"]}
    assert {rotation.previous_kid, rotation.kid} <= kids
    during = (await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))).session
    assert jwt.get_unverified_header(during.access_token)["kid"] != rotation.kid  # not signing yet
    assert (await verifier.verify(before.access_token)).user_id == str(user.user_id)
    with pytest.raises(FailedPrecondition) as again:
        await identity.rotate_signing_key(RotateSigningKey(actor=system))
    assert again.value.reason == "ROTATION_IN_PROGRESS"
    with pytest.raises(PermissionDenied):
        await identity.rotate_signing_key(RotateSigningKey(actor=actor_for(user)))


async def test_an_emergency_rotation_signs_at_once_and_kills_the_old_keys_tokens(identity, redis, mail_dir, unique):
    from libs.platform.auth import TokenVerifier

    user, before = await signed_in(identity, mail_dir, f"emergency-{unique}@example.com")
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    rotation = await identity.rotate_signing_key(
        RotateSigningKey(actor=Actor(SYSTEM_ACTOR_ID, "system"), emergency=True)
    )
    kids = {key["kid"] for key in (await identity.jwks())["keys"]}
    assert rotation.kid in kids and old_kid not in kids
    after = (await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))).session
    assert jwt.get_unverified_header(after.access_token)["kid"] == rotation.kid
    fresh_verifier = TokenVerifier(identity.jwks, redis)  # a verifier whose cache predates nothing
    assert (await fresh_verifier.verify(after.access_token)).user_id == str(user.user_id)
    with pytest.raises(Unauthenticated):
        await fresh_verifier.verify(before.access_token)


async def test_the_tin_is_stored_encrypted_and_shown_masked(identity, mail_dir, unique):
    user = await active_user(identity, mail_dir, f"tax-{unique}@example.com")
    profile = await identity.use_cases.set_tax_profile(
        SetTaxProfile(actor_for(user), TaxForm.W9, "Jane Trader", "123-45-6789", "us", "1 Main St, Chicago IL")
    )
    assert profile.tin_masked == "*****6789"
    assert (await identity.use_cases.get_tax_profile(GetTaxProfile(actor_for(user)))).tin_masked == "*****6789"
    async with identity.uow() as uow:
        stored = (
            await uow.session.execute(
                select(t.tax_profiles.c.tin_ciphertext).where(t.tax_profiles.c.user_id == user.user_id)
            )
        ).scalar_one()
    assert "123456789" not in stored and stored.startswith("v1.")


async def test_login_history_records_attempts_and_a_new_device_is_mailed(identity, mail_dir, unique):
    user, _ = await signed_in(identity, mail_dir, f"devices-{unique}@example.com", ip="1.0.0.1")
    with pytest.raises(Unauthenticated):
        await identity.use_cases.login(Login(email=user.email, password="wrong wrong wrong", client=client()))
    await identity.use_cases.login(
        Login(email=user.email, password=PASSWORD, client=client(user_agent="OtherPhone/2.0", country="CZ"))
    )
    page = await identity.use_cases.list_login_events(ListLoginEvents(actor=actor_for(user)))
    outcomes = [(e.outcome.value, e.country, e.new_device) for e in page.events]
    assert outcomes == [("ok", "CZ", True), ("bad_password", None, False), ("ok", "AU", True)]
    assert [m["Subject"] for m in read_mailbox(mail_dir, to=user.email)][-1] == "New sign-in to your account"


async def test_staff_page_through_users_with_filters(identity, mail_dir, unique):
    emails = [f"page-{unique}-{n}@example.com" for n in range(3)]
    for email in emails:
        await active_user(identity, mail_dir, email)
    support = Actor(str(uuid.uuid4()), "support", has_mfa=True)
    first = await identity.use_cases.list_users(ListUsers(actor=support, email_contains=f"page-{unique}", page_size=2))
    assert [u.email for u in first.users] == emails[:2] and first.next_after_key
    second = await identity.use_cases.list_users(
        ListUsers(actor=support, email_contains=f"PAGE-{unique}", page_size=2, after_key=first.next_after_key)
    )
    assert [u.email for u in second.users] == emails[2:] and second.next_after_key is None
    with pytest.raises(InvalidArgument):
        await identity.use_cases.list_users(ListUsers(actor=support, after_key="not|a-key"))


async def test_every_security_event_leaves_an_audit_record_in_the_chain(identity, mail_dir, unique):
    from libs.platform.tables import platform_tables

    user, session = await signed_in(identity, mail_dir, f"audit-{unique}@example.com")
    with pytest.raises(Unauthenticated):
        await identity.use_cases.login(Login(email=user.email, password="not it not it", client=client()))
    await enrol_totp(identity, actor_for(user, session))
    await identity.use_cases.change_role(ChangeRole(ADMIN, str(user.user_id), Role.SUPPORT, "moved to support"))
    await identity.use_cases.suspend_user(SuspendUser(ADMIN, str(user.user_id), "left the firm"))
    audit = platform_tables("identity")["audit_log"]
    async with identity.uow() as uow:
        rows = (
            await uow.session.execute(
                select(audit.c.action, audit.c.actor_id)
                .where(audit.c.subject_id == str(user.user_id))
                .order_by(audit.c.id)
            )
        ).all()
    assert [action for action, _ in rows] == [
        "user.registered",
        "user.email_verified",
        "login.succeeded",
        "login.failed",
        "mfa.totp_enrolment_started",
        "mfa.totp_enabled",
        "user.role_changed",
        "user.suspended",
    ]
    assert rows[-1].actor_id == ADMIN.actor_id


async def test_wrong_codes_add_up_across_sign_ins_until_the_second_factor_is_throttled(identity, mail_dir, unique):
    from services.identity.domain.errors import TooManyAttempts

    user, session = await signed_in(identity, mail_dir, f"mfa-guess-{unique}@example.com")
    await enrol_totp(identity, actor_for(user, session))
    guesses = 0
    with pytest.raises(TooManyAttempts) as throttled:
        for _ in range(4):  # each sign-in gives a new challenge; the guesses still count against the user
            challenge = await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
            for _ in range(3):
                with pytest.raises(Unauthenticated):
                    await identity.use_cases.complete_mfa_login(
                        CompleteMfaLogin(challenge.mfa_token, "000000", "", client())
                    )
                guesses += 1
    # Four guesses are free; from the fifth each waits 1, 2, 4 ... s, so a fast sixth is refused (a slow machine
    # may squeeze in one or two more, never the ten that lock).
    assert 5 <= guesses < 10 and throttled.value.retry_after_seconds >= 1
