"""The OIDC client refuses every id_token it must refuse. A real provider never mints a token for the wrong audience
or with an expired `exp`, so these cases are served by an httpx MockTransport playing a provider that does:
discovery, JWKS and a token endpoint whose id_token the test shapes."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from libs.domain.errors import FailedPrecondition, Unauthenticated
from services.identity.adapters.oidc_client import HttpxOidcClient
from services.identity.domain.oauth import OAuthProvider

ISSUER = "https://accounts.example.test"
PROVIDER = OAuthProvider("google", ISSUER, "our-client", "secret", ("openid", "email"))
NONCE = "n" * 43
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": "our-client", "sub": "1001", "iat": now, "exp": now + 600, "nonce": NONCE,
            "email": "Ann@Example.test", "email_verified": True}  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def provider_serving(id_token: str, *, issuer: str = ISSUER, token_status: int = 200) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": issuer,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [jwk_of(KEY, "k1")]})
        if request.url.path == "/token":
            assert b"code_verifier=" in request.content
            if token_status != 200:
                return httpx.Response(token_status, json={"error": "invalid_grant"})
            return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": id_token})
        return httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def exchange(id_token: str, **kwargs):
    client = HttpxOidcClient(provider_serving(id_token, **kwargs), attempts=1)
    try:
        return await client.exchange_code(
            PROVIDER, code="c", redirect_uri="https://gw.test/cb", code_verifier="v" * 43, nonce=NONCE
        )
    finally:
        await client.aclose()


def signed(payload: dict, key=KEY, kid: str = "k1", algorithm: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


async def test_a_good_id_token_gives_the_subject_and_normalised_email():
    identity = await exchange(signed(claims()))

    assert (identity.subject, identity.email, identity.email_verified) == ("1001", "ann@example.test", True)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(signed(claims(aud="someone-else")), id="wrong audience"),
        pytest.param(signed(claims(iss="https://evil.example")), id="wrong issuer"),
        pytest.param(signed(claims(exp=int(time.time()) - 3600)), id="expired"),
        pytest.param(signed(claims(nonce="another-sign-in")), id="wrong nonce"),
        pytest.param(signed(claims(nonce=None)), id="no nonce"),
        pytest.param(signed(claims(), key=OTHER_KEY), id="signed by another key"),
        pytest.param(signed(claims(), kid="unknown"), id="unpublished kid"),
        pytest.param(jwt.encode(claims(), None, algorithm="none"), id="alg none"),
        pytest.param(jwt.encode(claims(), "secret-key-long-enough-for-hs256!", algorithm="HS256"), id="HS256"),
    ],
)
async def test_a_bad_id_token_is_refused(token):
    with pytest.raises(Unauthenticated) as refused:
        await exchange(token)
    assert refused.value.reason == "OAUTH_ID_TOKEN_INVALID"


async def test_a_refused_code_is_unauthenticated_and_a_lying_discovery_is_unavailable():
    with pytest.raises(Unauthenticated) as refused:
        await exchange(signed(claims()), token_status=400)
    assert refused.value.reason == "OAUTH_CODE_REJECTED"
    with pytest.raises(FailedPrecondition) as unavailable:
        await exchange(signed(claims()), issuer="https://evil.example")
    assert unavailable.value.reason == "OAUTH_PROVIDER_UNAVAILABLE"
