"""The devstack OIDC provider over real HTTP: code + PKCE flow, RS256 id_token checked against /jwks, and the
RFC 6749 / RFC 7636 refusals a generic client must see (wrong verifier, reused code, expired code, bad requests)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from devstack.oidc_provider.app import Provider, build_app
from devstack.oidc_provider.config import config_from_dict
from devstack.oidc_provider.keys import SigningKey
from tests.integration.standins.conftest import ServerThread, free_port

CALLBACK = "http://127.0.0.1:8080/v1/auth/oauth/google/callback"
APPLE_CALLBACK = "http://127.0.0.1:8080/v1/auth/oauth/apple/callback"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Oidc:
    issuer: str
    http: httpx.Client
    clock: FakeClock


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.load_or_create(None)  # 2048-bit generation is the slow part; once per module


@pytest.fixture
def oidc(signing_key: SigningKey) -> Iterator[Oidc]:
    config = config_from_dict(
        {
            "clients": [
                {"client_id": "web", "client_secret": "s3cret", "redirect_uris": [CALLBACK], "flavor": "google"},
                {"client_id": "apple-web", "client_secret": "a", "redirect_uris": [APPLE_CALLBACK], "flavor": "apple"},
            ],
            "users": [{"email": "ann@dynasty.test", "name": "Ann Lee", "sub": "1001"}],
        }
    )
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    provider = Provider(issuer=issuer, config=config, key=signing_key, clock=clock)
    with ServerThread(build_app(provider), port), httpx.Client(base_url=issuer, timeout=10) as http:
        yield Oidc(issuer, http, clock)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(oidc: Oidc, challenge: str, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": "ann@dynasty.test",
        **overrides,
    }
    return oidc.http.get("/authorize", params={k: v for k, v in params.items() if v != ""})


def code_from(reply: httpx.Response) -> str:
    assert reply.status_code == 302, reply.text
    query = parse_qs(urlsplit(reply.headers["location"]).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(oidc: Oidc, code: str, verifier: str, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        "client_id": "web",
        "client_secret": "s3cret",
        **overrides,
    }
    return oidc.http.post("/token", data=form)


def test_code_and_pkce_flow_gives_an_id_token_that_verifies_against_jwks(oidc: Oidc) -> None:
    discovery = oidc.http.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == oidc.issuer
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    verifier, challenge = pkce_pair()

    reply = exchange(oidc, code_from(authorize(oidc, challenge)), verifier)

    assert reply.status_code == 200, reply.text
    assert reply.headers["cache-control"] == "no-store"
    tokens = reply.json()
    assert tokens["token_type"] == "Bearer"
    jwk = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(
        tokens["id_token"],
        jwk.key,
        algorithms=["RS256"],
        audience="web",
        issuer=oidc.issuer,
        options={"verify_iat": False, "verify_exp": False},  # the provider runs on a fixed clock in this test
    )
    assert claims["sub"] == "1001"
    assert claims["email"] == "ann@dynasty.test" and claims["email_verified"] is True
    assert claims["nonce"] == "n-1"
    assert claims["exp"] - claims["iat"] == 3600 and claims["iat"] == int(oidc.clock.now)
    assert claims["name"] == "Ann Lee"
    info = oidc.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == "1001"


def test_a_wrong_code_verifier_is_invalid_grant(oidc: Oidc) -> None:
    _verifier, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    reply = exchange(oidc, code_from(authorize(oidc, challenge)), other_verifier)
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_grant"


def test_a_reused_code_is_refused_and_revokes_the_tokens_it_bought(oidc: Oidc) -> None:
    verifier, challenge = pkce_pair()
    code = code_from(authorize(oidc, challenge))
    first = exchange(oidc, code, verifier)
    assert first.status_code == 200

    second = exchange(oidc, code, verifier)

    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    info = oidc.http.get("/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert info.status_code == 401 and "invalid_token" in info.headers["www-authenticate"]


def test_an_expired_code_is_invalid_grant(oidc: Oidc) -> None:
    verifier, challenge = pkce_pair()
    code = code_from(authorize(oidc, challenge))
    oidc.clock.now += 61
    reply = exchange(oidc, code, verifier)
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant", "error_description": "The authorization code has expired."}


def test_a_code_is_bound_to_its_redirect_uri_and_client_secret(oidc: Oidc) -> None:
    verifier, challenge = pkce_pair()
    code = code_from(authorize(oidc, challenge))
    assert exchange(oidc, code, verifier, redirect_uri="http://evil.test/cb").json()["error"] == "invalid_grant"
    wrong_secret = exchange(oidc, code, verifier, client_secret="nope")
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    basic = base64.b64encode(b"web:s3cret").decode()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
    assert oidc.http.post("/token", data=form, headers={"Authorization": f"Basic {basic}"}).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "email"}, "invalid_scope"),
        ({"login_hint": "", "prompt": "none"}, "login_required"),
    ],
)
def test_bad_authorization_requests_go_back_to_the_client_with_an_error(
    oidc: Oidc, overrides: dict[str, str], error: str
) -> None:
    _verifier, challenge = pkce_pair()
    reply = authorize(oidc, challenge, **overrides)
    assert reply.status_code == 302
    query = parse_qs(urlsplit(reply.headers["location"]).query)
    assert query["error"] == [error] and query["state"] == ["st-1"] and "code" not in query


def test_an_unregistered_redirect_uri_is_never_redirected_to(oidc: Oidc) -> None:
    _verifier, challenge = pkce_pair()
    reply = authorize(oidc, challenge, redirect_uri="http://evil.test/cb")
    assert reply.status_code == 400 and "location" not in reply.headers
    assert "redirect_uri_mismatch" in reply.text


def test_the_sign_in_form_lists_test_users_and_signs_in_the_chosen_one(oidc: Oidc) -> None:
    verifier, challenge = pkce_pair()
    page = authorize(oidc, challenge, login_hint="")
    assert page.status_code == 200 and "ann@dynasty.test" in page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    hidden = {k: html.unescape(v) for k, v in hidden.items()}

    reply = oidc.http.post("/authorize", data={**hidden, "email": "new.person@example.test"})

    tokens = exchange(oidc, code_from(reply), verifier).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["email"] == "new.person@example.test" and claims["sub"].isdigit()


def test_apple_flavor_posts_the_code_and_writes_email_verified_as_a_string(oidc: Oidc) -> None:
    verifier, challenge = pkce_pair()
    apple = {"client_id": "apple-web", "redirect_uri": APPLE_CALLBACK, "scope": "openid email name"}
    assert "error=invalid_request" in authorize(oidc, challenge, **apple).headers["location"]

    page = authorize(oidc, challenge, **apple, response_mode="form_post")

    assert page.status_code == 200 and f'action="{APPLE_CALLBACK}"' in page.text
    fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
    assert '"firstName": "Ann"' in fields["user"] and fields["state"] == "st-1"
    form = {"client_id": "apple-web", "client_secret": "a", "redirect_uri": APPLE_CALLBACK}
    tokens = exchange(oidc, fields["code"], verifier, **form).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["email_verified"] == "true" and "name" not in claims
    again = authorize(oidc, challenge, **apple, response_mode="form_post")
    assert 'name="user"' not in again.text  # Apple sends the name on the first authorization only
