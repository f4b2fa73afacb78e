"""The devstack's demo users: created once, signed in with their known passwords, the admin only with TOTP."""

import time

import pyotp

from libs.domain.clock import SystemClock
from libs.platform.db import create_engine, session_factory
from services.identity.adapters.demo_seed import seed_demo_users
from services.identity.application.complete_mfa_login import CompleteMfaLogin
from services.identity.application.login import Login
from services.identity.main import build_identity
from tests.integration.identity.conftest import client, identity_test_settings


async def test_seeding_twice_gives_the_same_users_and_they_can_sign_in(database_url, redis, redis_url, mail_dir):
    settings = identity_test_settings(database_url, redis_url, mail_dir)
    first = await seed_demo_users(settings)
    second = await seed_demo_users(settings)
    assert first == second
    engine = create_engine(database_url, "identity", pool_size=2)
    identity = build_identity(settings, session_factory(engine), SystemClock(), redis)
    try:
        trader = await identity.use_cases.login(Login(first.trader_email, first.trader_password, client()))
        assert trader.session is not None
        admin = await identity.use_cases.login(Login(first.admin_email, first.admin_password, client()))
        assert admin.mfa_required
        # The step after the current one: a previous run of this test may have spent the current step.
        code = pyotp.TOTP(first.admin_totp_secret).at(time.time() + 30)
        session = await identity.use_cases.complete_mfa_login(CompleteMfaLogin(admin.mfa_token, code, "", client()))
        assert session.access_token
    finally:
        await engine.dispose()
