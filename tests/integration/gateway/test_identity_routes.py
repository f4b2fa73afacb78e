"""What the gateway sends identity and how it answers: client facts (socket peer or trusted X-Forwarded-For hop,
User-Agent, CloudFront country), throttling as 429 with Retry-After, the OAuth state cookie, enum mapping."""

from __future__ import annotations

import uuid

from dynasty.identity.v1 import identity_service_pb2 as pb
from libs.domain.errors import DomainError, Unauthenticated
from tests.integration.gateway.conftest import CLIENT_SOCKET, gateway_settings, running_gateway

CREDENTIALS = {"email": "t@example.com", "password": "correct horse battery"}


def last_call(upstream, method: str):
    name, request, metadata = upstream.identity.calls[-1]
    assert name == method
    return request, metadata


async def test_login_passes_the_socket_peer_user_agent_and_edge_country(http, upstream):
    reply = await http.post(
        "/v1/auth/login",
        json=CREDENTIALS,
        headers={"User-Agent": "Firefox/140", "CloudFront-Viewer-Country": "cz", "X-Forwarded-For": "6.6.6.6"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["session"]["refresh_token"] == "canned-refresh"
    request, metadata = last_call(upstream, "Login")
    # Not configured to trust a proxy: X-Forwarded-For is the client's own claim and is ignored.
    assert (request.client.ip, request.client.user_agent, request.client.country) == (
        CLIENT_SOCKET[0],
        "Firefox/140",
        "CZ",
    )
    assert request.email == CREDENTIALS["email"] and request.password == CREDENTIALS["password"]
    assert metadata["x-dynasty-client-ip"] == CLIENT_SOCKET[0]
    assert metadata["x-dynasty-user-agent"] == "Firefox/140"
    assert metadata["x-dynasty-country"] == "CZ"
    assert "authorization" not in metadata


async def test_behind_a_trusted_proxy_the_client_ip_is_the_hop_that_proxy_saw(redis_url, upstream, keys):
    settings = gateway_settings(redis_url, upstream.target, trusted_proxy_count=1)
    async for client in running_gateway(settings, keys):
        await client.post("/v1/auth/login", json=CREDENTIALS, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.50"})
        request, metadata = last_call(upstream, "Login")
        assert request.client.ip == "203.0.113.50"  # the client-written 6.6.6.6 is not believed
        assert metadata["x-dynasty-client-ip"] == "203.0.113.50"
        await client.post("/v1/auth/login", json=CREDENTIALS)  # no header: not through the proxy
        request, _ = last_call(upstream, "Login")
        assert request.client.ip == CLIENT_SOCKET[0]


async def test_throttled_login_is_429_with_retry_after(http, upstream):
    # Identity's throttle refusal: any domain error carrying retry_after_seconds is RESOURCE_EXHAUSTED on the wire.
    upstream.identity.refuse_next = DomainError(
        "too many attempts; retry in 37 seconds", reason="TOO_MANY_ATTEMPTS", retry_after_seconds="37"
    )
    reply = await http.post("/v1/auth/login", json=CREDENTIALS)
    assert reply.status_code == 429, reply.text
    assert reply.headers["retry-after"] == "37"
    assert reply.json()["reason"] == "TOO_MANY_ATTEMPTS"
    assert reply.json()["retry_after_seconds"] == "37"


async def test_a_wrong_password_is_401_with_a_bearer_challenge(http, upstream):
    upstream.identity.refuse_next = Unauthenticated("email or password is wrong", reason="INVALID_CREDENTIALS")
    reply = await http.post("/v1/auth/login", json=CREDENTIALS)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert reply.json()["reason"] == "INVALID_CREDENTIALS"


async def test_oauth_start_redirects_and_binds_the_state_to_a_secure_cookie(http, upstream):
    reply = await http.get("/v1/auth/oauth/google")
    assert reply.status_code == 302
    assert reply.headers["location"] == "https://accounts.example.com/authorize?state=s-123"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("dynasty_oauth_state=s-123")
    lowered = cookie.lower()
    assert "secure" in lowered and "httponly" in lowered and "samesite=lax" in lowered
    request, _ = last_call(upstream, "StartOAuth")
    assert request.provider == "google"
    assert request.redirect_uri == "http://gateway.test/v1/auth/oauth/google/callback"


async def test_an_oauth_callback_whose_state_is_not_this_browsers_is_refused(http, upstream):
    before = len(upstream.identity.calls)
    for headers in ({}, {"Cookie": "dynasty_oauth_state=other"}):
        reply = await http.get(
            "/v1/auth/oauth/google/callback", params={"code": "c", "state": "s-123"}, headers=headers
        )
        assert reply.status_code == 400
        assert reply.json()["field"] == "state"
    assert len(upstream.identity.calls) == before  # identity never saw the forged callback


async def test_the_oauth_callback_returns_the_session_and_clears_the_state(http, upstream):
    reply = await http.get(
        "/v1/auth/oauth/google/callback",
        params={"code": "the-code", "state": "s-123"},
        headers={"Cookie": "dynasty_oauth_state=s-123"},
    )
    assert reply.status_code == 200
    assert reply.json()["created"] is True and reply.json()["session"]["access_token"] == "canned.access.token"
    assert 'dynasty_oauth_state=""' in reply.headers["set-cookie"] or "Max-Age=0" in reply.headers["set-cookie"]
    request, _ = last_call(upstream, "CompleteOAuth")
    assert (request.provider, request.code, request.state) == ("google", "the-code", "s-123")


async def test_an_admin_role_change_is_forwarded_as_the_proto_enum(http, upstream, keys):
    admin = keys.mint(f"admin-{uuid.uuid4().hex[:6]}", "admin", amr=("pwd", "otp"))
    reply = await http.put(
        "/v1/admin/users/abc-123/role",
        json={"role": "support", "reason": "joined the desk"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert reply.status_code == 200, reply.text
    request, metadata = last_call(upstream, "ChangeRole")
    assert (request.user_id, request.role, request.reason) == ("abc-123", pb.ROLE_SUPPORT, "joined the desk")
    assert metadata["authorization"] == f"Bearer {admin}"


async def test_bad_input_is_a_400_naming_the_field_and_reaches_no_one(http, upstream, keys):
    admin = keys.mint(f"admin-{uuid.uuid4().hex[:6]}", "admin", amr=("pwd", "otp"))
    before = len(upstream.identity.calls)
    reply = await http.put(
        "/v1/admin/users/abc-123/role",
        json={"role": "emperor", "reason": "why not"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert reply.status_code == 400 and reply.json()["errors"][0]["field"] == "role"
    reply = await http.post("/v1/auth/login/mfa", json={"mfa_token": "m"})
    assert reply.status_code == 400 and reply.json()["field"] == "totp_code"
    assert len(upstream.identity.calls) == before
