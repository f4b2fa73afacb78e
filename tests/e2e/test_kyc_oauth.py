"""KYC and OAuth sign-in through the gateway of the real stack (services, gateway, the Stripe stand-in and the OIDC
provider as processes, real PostgreSQL and Redis), as `make up` runs them:

- a trader opens a KYC session, the stand-in's control plays the user passing Stripe Identity, the stand-in signs
  and sends the webhooks to the gateway, which verifies them and hands them to identity: the case is approved;
- a new user signs in with the devstack OIDC provider (authorization code + PKCE) and calls GET /v1/me, by
  redirect (Google's way) and by form POST (Apple's).
"""

from __future__ import annotations

import html
import re
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.test_identity_flow import PASSWORD, bearer, verification_token


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


def signed_in_trader(stack, http) -> str:
    email = f"kyc-trader-{uuid.uuid4().hex[:10]}@example.com"
    assert http.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
    reply = http.post("/v1/auth/verify-email", json={"token": verification_token(stack, email)})
    assert reply.status_code == 200, reply.text
    reply = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return reply.json()["session"]["access_token"]


def test_a_trader_passes_kyc_through_stripe_identity_and_its_webhooks(stack, http):
    access = signed_in_trader(stack, http)

    reply = http.post("/v1/kyc/session", json={"return_url": "https://app.example.com/kyc"}, headers=bearer(access))
    assert reply.status_code == 200, reply.text
    opened = reply.json()
    assert opened["kyc_case"]["status"] == "pending"
    assert opened["verification_url"].startswith(stack.stripe_url)
    session_id = opened["kyc_case"]["verification_session_id"]

    # The user completes the check on Stripe's page: the stand-in sends .processing and .verified, signed.
    control = httpx.post(f"{stack.stripe_url}/_standin/identity/verification_sessions/{session_id}/verify", json={})
    assert control.status_code == 200, control.text

    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        status = http.get("/v1/kyc", headers=bearer(access)).json()["status"]
        if status == "approved":
            break
        time.sleep(0.2)
    assert status == "approved", f"KYC stayed {status}; identity log:\n{stack.log_tail('identity')}"
    assert http.get("/v1/me", headers=bearer(access)).json()["kyc_status"] == "approved"
    # Every delivery of this session's events was answered 2xx by the gateway at the first attempt: nothing to retry.
    attempts = httpx.get(f"{stack.stripe_url}/_standin/deliveries").json()["attempts"]
    ours = [a for a in attempts if a["event_type"].startswith("identity.verification_session.")]
    assert ours and all(a["status"] == 200 and a["attempt"] == 1 for a in ours), ours


def test_a_new_user_signs_in_with_the_oidc_provider_and_calls_me(stack, http):
    email = f"oauth-e2e-{uuid.uuid4().hex[:10]}@dynasty.test"

    start = http.get("/v1/auth/oauth/devstack", follow_redirects=False)
    assert start.status_code == 302, start.text
    provider_url = start.headers["location"]
    assert provider_url.startswith(stack.oidc_url)
    state_cookie = start.cookies.get("dynasty_oauth_state") or _cookie(start, "dynasty_oauth_state")

    # The browser at the provider: signing in as `email` (login_hint skips the page) sends it back with a code.
    at_provider = httpx.get(f"{provider_url}&{urlencode({'login_hint': email})}", follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/v1/auth/oauth/devstack/callback"
    answer = parse_qs(back.query)

    reply = http.get(
        back.path,
        params={"code": answer["code"][0], "state": answer["state"][0]},
        headers={"Cookie": f"dynasty_oauth_state={state_cookie}"},
    )
    assert reply.status_code == 200, reply.text
    signed_in = reply.json()
    assert signed_in["created"] is True and signed_in["session"]["access_token"]

    me = http.get("/v1/me", headers=bearer(signed_in["session"]["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email and me.json()["email_verified"] is True

    # The same callback again: the state was spent.
    replay = http.get(
        back.path,
        params={"code": answer["code"][0], "state": answer["state"][0]},
        headers={"Cookie": f"dynasty_oauth_state={state_cookie}"},
    )
    assert replay.status_code == 401 and replay.json()["reason"] == "OAUTH_STATE_INVALID"


def _cookie(reply: httpx.Response, name: str) -> str:
    """The value of a Secure cookie set over plain http (the client's jar will not keep it here)."""
    for header in reply.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie set")


def test_apple_answers_with_a_form_post_that_the_gateway_accepts(stack, http):
    email = f"apple-e2e-{uuid.uuid4().hex[:10]}@dynasty.test"

    start = http.get("/v1/auth/oauth/apple", follow_redirects=False)
    assert start.status_code == 302, start.text
    state_cookie = _cookie(start, "dynasty_oauth_state")
    assert "response_mode=form_post" in start.headers["location"]

    # Apple's answer is a page that POSTs code, state and (first time) the user's name to our callback.
    page = httpx.get(f"{start.headers['location']}&{urlencode({'login_hint': email})}")
    assert page.status_code == 200, page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
    assert urlsplit(html.unescape(action)).path == "/v1/auth/oauth/apple/callback" and "user" in fields

    reply = http.post(
        "/v1/auth/oauth/apple/callback", data=fields, headers={"Cookie": f"dynasty_oauth_state={state_cookie}"}
    )
    assert reply.status_code == 200, reply.text
    me = http.get("/v1/me", headers=bearer(reply.json()["session"]["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == email
