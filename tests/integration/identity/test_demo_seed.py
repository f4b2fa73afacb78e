"""The devstack's demo users: created once, signed in with their known passwords, the admin only with TOTP."""

import asyncio
import time
from uuid import UUID

import pyotp

from libs.domain.clock import SystemClock
from libs.platform.db import create_engine, session_factory
from services.identity.adapters.demo_seed import seed_demo_users
from services.identity.application.complete_mfa_login import CompleteMfaLogin
from services.identity.application.login import Login
from services.identity.main import build_identity
from tests.integration.identity.conftest import client, identity_test_settings


async def unused_code(identity, user_id, secret: str) -> str:
    """A code for a 30-second step the admin has not used yet (an earlier run may have spent the current one)."""
    async with identity.uow() as uow:
        last_used = (await uow.mfa.get_totp(user_id)).last_used_step or 0
    now_step = int(time.time()) // 30
    while last_used >= now_step + 1:  # every acceptable step is spent: wait for the next one
        await asyncio.sleep(30 - time.time() % 30 + 0.1)
        now_step = int(time.time()) // 30
    return pyotp.TOTP(secret).at(max(now_step - 1, last_used + 1) * 30)


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
        code = await unused_code(identity, UUID(first.admin_user_id), first.admin_totp_secret)
        session = await identity.use_cases.complete_mfa_login(CompleteMfaLogin(admin.mfa_token, code, "", client()))
        assert session.access_token
    finally:
        await engine.dispose()
