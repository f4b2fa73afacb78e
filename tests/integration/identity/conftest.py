"""Identity integration fixtures: the real use-case graph over real PostgreSQL and Redis, cheap argon2 parameters,
a throwaway master key and a per-test mail folder."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from libs.domain.clock import SystemClock
from libs.platform.auth import TokenVerifier
from libs.platform.db import create_engine, session_factory
from libs.platform.mailbox import read_mailbox
from libs.platform.settings import IdentitySettings
from services.identity.application.common import Actor, ClientInfo
from services.identity.application.login import Login
from services.identity.application.register import Register
from services.identity.application.verify_email import VerifyEmail
from services.identity.main import build_identity

PASSWORD = "correct horse battery staple"


def identity_test_settings(database_url: str, redis_url: str, mail_dir: Path, **overrides) -> IdentitySettings:
    values = dict(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        # The default key file, as the e2e stack's identity process uses it: both seal signing keys into the same
        # (kept) test database, so they must share the master key.
        identity_argon2_time_cost=1,
        identity_argon2_memory_kib=1024,
        identity_argon2_parallelism=1,
        identity_mail_dir=str(mail_dir),
        identity_blocked_countries="KP,IR",
    )
    values.update(overrides)
    return IdentitySettings(**values)


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
async def identity(database_url, redis, redis_url, mail_dir):
    settings = identity_test_settings(database_url, redis_url, mail_dir)
    engine = create_engine(database_url, "identity", pool_size=5)
    components = build_identity(settings, session_factory(engine), SystemClock(), redis)
    await usable_signing_key(components)
    yield components
    await engine.dispose()


async def usable_signing_key(components) -> None:
    """The kept test database may hold a signing key sealed under a master key since deleted (`make reset` of the
    devstack folder alone): replace it with an emergency rotation, as an operator would after losing the key."""
    from libs.platform.crypto import DecryptionFailed
    from services.identity.application.common import SYSTEM_ACTOR_ID
    from services.identity.application.rotate_signing_key import RotateSigningKey
    from services.identity.domain.user import Role

    try:
        await components.issuer.issue(
            user_id=uuid.uuid4(),
            role=Role.TRADER,
            session_id=uuid.uuid4(),
            amr=("pwd",),
            mfa_at=None,
            now=SystemClock().now(),
        )
    except DecryptionFailed:
        await components.rotate_signing_key(RotateSigningKey(Actor(SYSTEM_ACTOR_ID, "system"), emergency=True))


@pytest.fixture
def verifier(identity, redis) -> TokenVerifier:
    return TokenVerifier(identity.jwks, redis)


def client(ip: str | None = None, user_agent: str = "pytest-browser/1.0", country: str | None = None):
    """By default a fresh address in 198.18.0.0/15 (benchmarking range, no country) per call, so per-IP throttling
    counted by one test (the Redis is shared and kept) never slows another."""
    ip = ip or f"198.{random.randint(18, 19)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return ClientInfo(ip=ip, user_agent=user_agent, country=country)


def link_token(mail_dir: Path, email: str) -> str:
    messages = [m for m in read_mailbox(mail_dir, to=email) if m["Subject"] == "Confirm your email address"]
    body = messages[-1].get_content()
    return body.split("paste this code in the app: ")[1].split()[0]


async def active_user(identity, mail_dir: Path, email: str, password: str = PASSWORD):
    """Register and verify; returns the User."""
    uc = identity.use_cases
    await uc.register(Register(email=email, password=password, client=client()))
    return await uc.verify_email(VerifyEmail(token=link_token(mail_dir, email)))


async def signed_in(identity, mail_dir: Path, email: str, **client_kwargs):
    user = await active_user(identity, mail_dir, email)
    result = await identity.use_cases.login(Login(email=email, password=PASSWORD, client=client(**client_kwargs)))
    return user, result.session


def actor_for(user, session=None) -> Actor:
    return Actor(
        actor_id=str(user.user_id),
        role=user.role.value,
        ip=client().ip,  # a fresh address: per-IP counts kept in Redis between runs must not throttle this test
        session_id=str(session.session_id) if session else None,
    )
