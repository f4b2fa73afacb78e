"""OAuth / OIDC sign-in against the devstack's OIDC provider run for real (it stands in for Google and Apple): the
authorization-code + PKCE flow through identity's generic client, id_token verification against the provider's
JWKS, single-use server-side state, and the linking rule (verified email on both sides, or a new account)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from devstack.oidc_provider.app import Provider, build_app
from devstack.oidc_provider.config import User as ProviderUser
from devstack.oidc_provider.config import default_config
from devstack.oidc_provider.keys import SigningKey
from libs.domain.clock import SystemClock
from libs.domain.errors import FailedPrecondition, Unauthenticated
from libs.platform.db import create_engine, session_factory
from libs.platform.tables import platform_tables
from services.identity.adapters.sql import kyc_tables
from services.identity.application.complete_mfa_login import CompleteMfaLogin
from services.identity.application.complete_oauth import CompleteOAuth
from services.identity.application.get_me import GetMe
from services.identity.application.start_oauth import StartOAuth
from services.identity.main import build_identity
from tests.integration.identity.conftest import (
    active_user,
    actor_for,
    client,
    identity_test_settings,
    usable_signing_key,
)
from tests.integration.standins.conftest import ServerThread, free_port

GATEWAY = "http://gateway.test"


def callback(provider: str) -> str:
    return f"{GATEWAY}/v1/auth/oauth/{provider}/callback"


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.load_or_create(None)


@pytest.fixture
def oidc(signing_key):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    provider = Provider(issuer=issuer, config=default_config([GATEWAY]), key=signing_key)
    with ServerThread(build_app(provider), port):
        yield provider


@pytest.fixture
async def identity(database_url, redis, redis_url, mail_dir, oidc):
    settings = identity_test_settings(database_url, redis_url, mail_dir, oidc_issuer_override=oidc.issuer)
    engine = create_engine(database_url, "identity", pool_size=5)
    components = build_identity(settings, session_factory(engine), SystemClock(), redis)
    await usable_signing_key(components)
    components.engine = engine
    yield components
    await engine.dispose()


async def authorize(identity, provider: str, email: str) -> tuple[str, str]:
    """StartOAuth, then the browser at the provider signing in as `email`; returns (code, state) from the callback."""
    start = await identity.use_cases.start_oauth(StartOAuth(provider=provider, redirect_uri=callback(provider)))
    query = parse_qs(urlsplit(start.authorization_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [start.state]
    assert "code_verifier" not in query and len(query["nonce"][0]) >= 32  # the verifier never leaves identity
    async with httpx.AsyncClient() as browser:
        reply = await browser.get(f"{start.authorization_url}&{urlencode({'login_hint': email})}")
    if reply.status_code == 302:
        answer = parse_qs(urlsplit(reply.headers["location"]).query)
        return answer["code"][0], answer["state"][0]
    # form_post (Apple): an auto-submitting form with the answer in hidden fields
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', reply.text))
    return html.unescape(fields["code"]), html.unescape(fields["state"])


async def sign_in(identity, provider: str, email: str):
    code, state = await authorize(identity, provider, email)
    return await identity.use_cases.complete_oauth(CompleteOAuth(provider, code, state, client()))


async def links_of(identity, user_id) -> list[tuple[str, str]]:
    o = kyc_tables.oauth_identities
    async with identity.engine.connect() as connection:
        rows = await connection.execute(select(o.c.provider, o.c.subject).where(o.c.user_id == user_id))
        return [tuple(r) for r in rows]


async def audit_actions(identity, user_id) -> list[str]:
    audit = platform_tables("identity")["audit_log"]
    async with identity.engine.connect() as connection:
        rows = await connection.execute(
            select(audit.c.action).where(audit.c.subject_id == str(user_id)).order_by(audit.c.id)
        )
        return [r.action for r in rows]


async def test_a_new_verified_email_creates_a_verified_account_and_signs_it_in(identity, verifier, unique):
    email = f"oauth-new-{unique}@dynasty.test"

    first = await sign_in(identity, "devstack", email)

    assert first.created and first.session is not None
    claims = await verifier.verify(first.session.access_token)
    assert claims.amr == ("oauth",)
    me = await identity.use_cases.get_me(GetMe(actor=actor_for_claims(claims)))
    assert me.email == email and me.email_verified and me.status.value == "active"
    again = await sign_in(identity, "devstack", email)
    assert not again.created
    assert (await verifier.verify(again.session.access_token)).user_id == claims.user_id
    assert await audit_actions(identity, me.user_id) == ["user.registered_oauth", "login.succeeded", "login.succeeded"]


def actor_for_claims(claims):
    from services.identity.application.common import Actor

    return Actor(actor_id=claims.user_id, role=claims.role)


async def test_a_verified_provider_email_links_to_the_verified_account_with_that_email(
    identity, mail_dir, verifier, unique
):
    email = f"oauth-link-{unique}@dynasty.test"
    user = await active_user(identity, mail_dir, email)

    result = await sign_in(identity, "google", email)

    assert not result.created
    assert (await verifier.verify(result.session.access_token)).user_id == str(user.user_id)
    assert [p for p, _ in await links_of(identity, user.user_id)] == ["google"]
    assert "oauth.linked" in await audit_actions(identity, user.user_id)


async def test_apple_form_post_and_string_email_verified_sign_in(identity, unique):
    result = await sign_in(identity, "apple", f"oauth-apple-{unique}@dynasty.test")

    assert result.created and result.session is not None  # "email_verified": "true" read as Apple means it


async def test_a_wrong_state_is_refused(identity, unique):
    code, _state = await authorize(identity, "devstack", f"oauth-wrong-{unique}@dynasty.test")

    with pytest.raises(Unauthenticated) as refused:
        await identity.use_cases.complete_oauth(CompleteOAuth("devstack", code, "not-the-state", client()))
    assert refused.value.reason == "OAUTH_STATE_INVALID"


async def test_a_replayed_state_is_refused(identity, unique):
    code, state = await authorize(identity, "devstack", f"oauth-replay-{unique}@dynasty.test")
    await identity.use_cases.complete_oauth(CompleteOAuth("devstack", code, state, client()))

    with pytest.raises(Unauthenticated) as refused:
        await identity.use_cases.complete_oauth(CompleteOAuth("devstack", code, state, client()))
    assert refused.value.reason == "OAUTH_STATE_INVALID"


async def test_a_state_started_for_another_provider_is_refused(identity, unique):
    code, state = await authorize(identity, "devstack", f"oauth-cross-{unique}@dynasty.test")

    with pytest.raises(Unauthenticated):
        await identity.use_cases.complete_oauth(CompleteOAuth("google", code, state, client()))


async def test_an_unverified_provider_email_is_not_linked(identity, oidc, mail_dir, unique):
    email = f"oauth-unverified-{unique}@dynasty.test"
    user = await active_user(identity, mail_dir, email)  # a verified account with that address exists
    oidc.config.users[email] = ProviderUser(sub=f"sub-{unique}", email=email, name="Una", email_verified=False)

    with pytest.raises(FailedPrecondition) as refused:
        await sign_in(identity, "devstack", email)

    assert refused.value.reason == "OAUTH_EMAIL_NOT_VERIFIED"
    assert await links_of(identity, user.user_id) == []
    stranger = f"oauth-unverified-new-{unique}@dynasty.test"
    oidc.config.users[stranger] = ProviderUser(sub=f"sub2-{unique}", email=stranger, name="U", email_verified=False)
    with pytest.raises(FailedPrecondition):  # nor does it create an account it cannot vouch for
        await sign_in(identity, "devstack", stranger)


async def test_an_account_with_totp_gets_an_mfa_challenge_after_the_provider(identity, mail_dir, verifier, unique):
    import pyotp

    from services.identity.application.confirm_totp import ConfirmTotp
    from services.identity.application.enroll_totp import EnrollTotp

    email = f"oauth-mfa-{unique}@dynasty.test"
    user = await active_user(identity, mail_dir, email)
    enrolment = await identity.use_cases.enroll_totp(EnrollTotp(actor=actor_for(user)))
    totp = pyotp.TOTP(enrolment.secret)
    await identity.use_cases.confirm_totp(ConfirmTotp(actor=actor_for(user), totp_code=totp.now()))

    result = await sign_in(identity, "devstack", email)

    assert result.mfa_required and result.session is None
    next_step = totp.at(datetime.now(UTC) + timedelta(seconds=30))  # the current step was spent confirming
    tokens = await identity.use_cases.complete_mfa_login(
        CompleteMfaLogin(mfa_token=result.mfa_token, totp_code=next_step, recovery_code="", client=client())
    )
    assert set((await verifier.verify(tokens.access_token)).amr) == {"oauth", "otp"}
