"""The issue's bad inputs that concern the identity service, one test each, plus the throttling they imply."""

import statistics
import time
import uuid

import pytest

from libs.domain.errors import InvalidArgument, PermissionDenied, Unauthenticated
from libs.platform.mailbox import read_mailbox
from libs.platform.settings import IdentitySettings
from services.identity.application.common import Actor
from services.identity.application.login import Login, throttle_key
from services.identity.application.refresh_session import RefreshSession
from services.identity.application.register import ACKNOWLEDGEMENT, Register
from services.identity.application.suspend_user import SuspendUser
from services.identity.application.verify_email import VerifyEmail
from services.identity.domain.errors import InvalidCredentials, TooManyAttempts
from tests.integration.identity.conftest import PASSWORD, active_user, client, link_token, signed_in

ADMIN = Actor(actor_id=str(uuid.uuid4()), role="admin", ip="192.0.2.1", has_mfa=True)


async def test_a_duplicate_email_gets_the_same_answer_and_the_owner_is_told(identity, mail_dir, unique):
    email = f"dup-{unique}@example.com"
    fresh = await identity.use_cases.register(
        Register(email=f"fresh-{unique}@example.com", password=PASSWORD, client=client())
    )
    await active_user(identity, mail_dir, email)
    duplicate = await identity.use_cases.register(
        Register(email=email.upper(), password="another long passphrase", client=client())
    )
    assert duplicate == fresh == ACKNOWLEDGEMENT
    subjects = [m["Subject"] for m in read_mailbox(mail_dir, to=email)]
    assert subjects == ["Confirm your email address", "Someone tried to register with your email"]
    with pytest.raises(InvalidCredentials):  # the duplicate's password changed nothing
        await identity.use_cases.login(Login(email=email, password="another long passphrase", client=client()))


async def test_registering_again_before_verifying_sends_a_new_link_and_keeps_the_first_password(
    identity, mail_dir, unique
):
    email = f"again-{unique}@example.com"
    await identity.use_cases.register(Register(email=email, password=PASSWORD, client=client()))
    await identity.use_cases.register(Register(email=email, password="a different passphrase", client=client()))
    subjects = [m["Subject"] for m in read_mailbox(mail_dir, to=email)]
    assert subjects == ["Confirm your email address", "Confirm your email address"]
    await identity.use_cases.verify_email(VerifyEmail(token=link_token(mail_dir, email)))
    assert (await identity.use_cases.login(Login(email=email, password=PASSWORD, client=client()))).session


async def test_a_common_or_short_password_is_refused_naming_the_rule(identity, unique):
    for password, reason in (("short pass", "PASSWORD_TOO_SHORT"), ("1qaz2wsx3edc", "PASSWORD_COMMON")):
        with pytest.raises(InvalidArgument) as info:
            await identity.use_cases.register(
                Register(email=f"weak-{unique}@example.com", password=password, client=client())
            )
        assert info.value.reason == reason and info.value.field == "password"


async def test_wrong_password_and_unknown_email_fail_alike_and_take_similar_time(
    database_url, redis, redis_url, mail_dir, unique
):
    from libs.domain.clock import SystemClock
    from libs.platform.db import create_engine, session_factory
    from services.identity.main import build_identity
    from tests.integration.identity.conftest import identity_test_settings

    # Costlier argon2 than the other tests, so the hash (not the database) dominates what is timed.
    settings: IdentitySettings = identity_test_settings(
        database_url, redis_url, mail_dir, identity_argon2_memory_kib=16384, identity_argon2_time_cost=2
    )
    engine = create_engine(database_url, "identity", pool_size=2)
    identity = build_identity(settings, session_factory(engine), SystemClock(), redis)
    try:
        email = f"timing-{unique}@example.com"
        await active_user(identity, mail_dir, email)
        timings = {"wrong": [], "unknown": []}
        errors = {}
        for attempt in range(6):
            for kind, who in (("wrong", email), ("unknown", f"nobody-{unique}-{attempt}@example.com")):
                await redis.delete(f"identity:throttle:{throttle_key(who)}")
                started = time.perf_counter()
                with pytest.raises(InvalidCredentials) as info:
                    await identity.use_cases.login(
                        Login(email=who, password="not the password at all", client=client())
                    )
                timings[kind].append(time.perf_counter() - started)
                errors[kind] = (type(info.value), info.value.reason, info.value.message)
        assert errors["wrong"] == errors["unknown"]
        ratio = statistics.median(timings["wrong"]) / statistics.median(timings["unknown"])
        assert 0.5 < ratio < 2.0, timings
    finally:
        await engine.dispose()


async def test_repeated_failures_slow_down_then_lock_the_account(identity, mail_dir, unique):
    email = f"brute-{unique}@example.com"
    await active_user(identity, mail_dir, email)
    for _ in range(5):  # four free failures, the fifth starts the delay
        with pytest.raises(InvalidCredentials):
            await identity.use_cases.login(Login(email=email, password="guess guess guess", client=client()))
    with pytest.raises(TooManyAttempts) as info:
        await identity.use_cases.login(Login(email=email, password=PASSWORD, client=client()))
    assert 1 <= info.value.retry_after_seconds <= 60
    assert info.value.metadata["retry_after_seconds"] == str(info.value.retry_after_seconds)


async def test_a_reused_refresh_token_revokes_the_whole_family(identity, mail_dir, verifier, unique):
    _, session = await signed_in(identity, mail_dir, f"reuse-{unique}@example.com")
    rotated = await identity.use_cases.refresh_session(RefreshSession(session.refresh_token, client()))
    with pytest.raises(Unauthenticated) as info:
        await identity.use_cases.refresh_session(RefreshSession(session.refresh_token, client()))
    assert info.value.reason == "REFRESH_TOKEN_REUSED"
    with pytest.raises(Unauthenticated):  # the legitimate holder's newer token died with the family
        await identity.use_cases.refresh_session(RefreshSession(rotated.refresh_token, client()))
    with pytest.raises(Unauthenticated):  # and so did the session's access tokens
        await verifier.verify(rotated.access_token)


async def test_a_verification_link_works_once_and_a_forged_one_not_at_all(identity, mail_dir, unique):
    email = f"link-{unique}@example.com"
    await identity.use_cases.register(Register(email=email, password=PASSWORD, client=client()))
    token = link_token(mail_dir, email)
    payload, signature = token.split(".")
    with pytest.raises(InvalidArgument) as forged:
        await identity.use_cases.verify_email(VerifyEmail(token=payload + "." + signature[::-1]))
    assert forged.value.reason == "TOKEN_INVALID"
    user = await identity.use_cases.verify_email(VerifyEmail(token=token))
    assert user.email_verified
    with pytest.raises(Exception) as again:
        await identity.use_cases.verify_email(VerifyEmail(token=token))
    assert again.value.reason == "TOKEN_USED"


async def test_a_suspended_users_token_is_refused_at_once_with_403(identity, mail_dir, verifier, unique):
    user, session = await signed_in(identity, mail_dir, f"suspend-{unique}@example.com")
    assert (await verifier.verify(session.access_token)).user_id == str(user.user_id)
    started = time.perf_counter()
    await identity.use_cases.suspend_user(SuspendUser(actor=ADMIN, user_id=str(user.user_id), reason="chargeback"))
    with pytest.raises(PermissionDenied):
        await verifier.verify(session.access_token)
    assert time.perf_counter() - started < 1.0
    with pytest.raises(PermissionDenied) as login:
        await identity.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))
    assert login.value.reason == "ACCOUNT_SUSPENDED"
    with pytest.raises(Unauthenticated):
        await identity.use_cases.refresh_session(RefreshSession(session.refresh_token, client()))


async def test_a_blocked_country_cannot_register_or_sign_in(identity, mail_dir, unique):
    email = f"country-{unique}@example.com"
    with pytest.raises(PermissionDenied) as registration:
        await identity.use_cases.register(Register(email=email, password=PASSWORD, client=client(country="KP")))
    assert registration.value.reason == "COUNTRY_BLOCKED"
    await active_user(identity, mail_dir, email)
    with pytest.raises(PermissionDenied) as login:
        await identity.use_cases.login(Login(email=email, password=PASSWORD, client=client(country="IR")))
    assert login.value.reason == "COUNTRY_BLOCKED"
