"""The role x endpoint matrix: every route of the gateway, for every kind of caller, allowed or refused as the
table below says. A route added without an entry here fails `test_every_route_has_an_entry`.

Tokens are real ES256 JWTs minted with the test's key; the gateway's real TokenVerifier is given that key's JWK Set
and checks revocation in real Redis. Allowed calls reach a real gRPC upstream: a small in-process server standing in
for the identity service with canned answers (tests/integration/gateway/fake_upstream.py). It is only the wire
peer; what is under test is the gateway's authorization, so "allowed" means the route's own success status with the
canned answer, and "refused" means 401/403 before any upstream call.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest

from tests.unit.gateway.tokens import suspend

PUBLIC, OWN, SIGNED_IN, STAFF, ADMIN = "public", "own", "signed_in", "staff", "admin"
TRADER = "trader_only"
PRINCIPALS = ("anonymous", "trader", "support_no_mfa", "support_mfa", "admin_mfa", "suspended_trader")
OK = "ok"

# What each access class answers each caller. OWN: any valid token, even staff who have not enrolled TOTP yet.
# SIGNED_IN: staff must have signed in with TOTP. STAFF: support or admin, with TOTP. ADMIN: admin with TOTP.
EXPECTED: dict[str, dict[str, int | str]] = {
    PUBLIC: dict.fromkeys(PRINCIPALS, OK),
    OWN: {"anonymous": 401, "trader": OK, "support_no_mfa": OK, "support_mfa": OK, "admin_mfa": OK,
          "suspended_trader": 403},
    SIGNED_IN: {"anonymous": 401, "trader": OK, "support_no_mfa": 403, "support_mfa": OK, "admin_mfa": OK,
                "suspended_trader": 403},
    STAFF: {"anonymous": 401, "trader": 403, "support_no_mfa": 403, "support_mfa": OK, "admin_mfa": OK,
            "suspended_trader": 403},
    ADMIN: {"anonymous": 401, "trader": 403, "support_no_mfa": 403, "support_mfa": 403, "admin_mfa": OK,
            "suspended_trader": 403},
    # TRADER: buying is for traders only; staff do not place orders for themselves.
    TRADER: {"anonymous": 401, "trader": OK, "support_no_mfa": 403, "support_mfa": 403, "admin_mfa": 403,
             "suspended_trader": 403},
}  # fmt: skip

USER_ID = "00000000-0000-4000-8000-00000000abcd"


@dataclass(frozen=True)
class Probe:
    access: str
    success: int = 200
    path: str | None = None  # the concrete path, when the route has parameters
    json: dict | None = None
    data: dict | None = None  # a form body (Apple's form_post callback)
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


MATRIX: dict[tuple[str, str], Probe] = {
    ("GET", "/openapi.json"): Probe(PUBLIC),
    ("GET", "/docs"): Probe(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Probe(PUBLIC),
    ("GET", "/redoc"): Probe(PUBLIC),
    ("GET", "/healthz"): Probe(PUBLIC),
    ("GET", "/readyz"): Probe(PUBLIC),
    ("GET", "/v1/programs"): Probe(PUBLIC),
    # Authenticated by Stripe's signature, not a bearer token: unsigned, every caller gets the same 400.
    ("POST", "/v1/webhooks/stripe"): Probe(PUBLIC, 400, json={"id": "evt_1", "type": "x"}),
    ("GET", "/v1/programs/{program_id}"): Probe(PUBLIC, path="/v1/programs/eval-50k"),
    ("POST", "/v1/auth/register"): Probe(PUBLIC, 202, json={"email": "a@example.com", "password": "x" * 14}),
    ("POST", "/v1/auth/verify-email"): Probe(PUBLIC, json={"token": "t"}),
    ("POST", "/v1/auth/login"): Probe(PUBLIC, json={"email": "a@example.com", "password": "x" * 14}),
    ("POST", "/v1/auth/login/mfa"): Probe(PUBLIC, json={"mfa_token": "m", "totp_code": "123456"}),
    ("POST", "/v1/auth/refresh"): Probe(PUBLIC, json={"refresh_token": "r"}),
    ("GET", "/v1/auth/oauth/{provider}"): Probe(PUBLIC, 302, path="/v1/auth/oauth/google"),
    ("GET", "/v1/auth/oauth/{provider}/callback"): Probe(
        PUBLIC,
        path="/v1/auth/oauth/google/callback",
        params={"code": "c", "state": "s-123"},
        headers={"Cookie": "dynasty_oauth_state=s-123"},
    ),
    ("POST", "/v1/auth/oauth/{provider}/callback"): Probe(
        PUBLIC,
        path="/v1/auth/oauth/apple/callback",
        data={"code": "c", "state": "s-123", "user": '{"name": {"firstName": "A", "lastName": "B"}}'},
        headers={"Cookie": "dynasty_oauth_state=s-123"},
    ),
    ("POST", "/v1/auth/logout"): Probe(OWN, 204, json={"refresh_token": "r"}),
    ("POST", "/v1/auth/logout-everywhere"): Probe(OWN),
    ("POST", "/v1/auth/mfa/totp"): Probe(OWN),
    ("POST", "/v1/auth/mfa/totp/verify"): Probe(OWN, json={"totp_code": "123456"}),
    ("GET", "/v1/me"): Probe(OWN),
    ("POST", "/v1/auth/mfa/step-up"): Probe(SIGNED_IN, json={"totp_code": "123456"}),
    ("GET", "/v1/me/logins"): Probe(SIGNED_IN),
    ("PUT", "/v1/me/tax-profile"): Probe(
        SIGNED_IN, json={"form": "w9", "legal_name": "T", "tin": "123456789", "country": "US", "address": "1 St"}
    ),
    ("GET", "/v1/me/tax-profile"): Probe(SIGNED_IN),
    ("POST", "/v1/kyc/session"): Probe(SIGNED_IN, json={"return_url": "https://app.example.com/kyc"}),
    ("GET", "/v1/kyc"): Probe(SIGNED_IN),
    # The raw document as the body: a form dict stands in for the file's bytes; Content-Type names the media type.
    ("POST", "/v1/kyc/documents"): Probe(
        SIGNED_IN,
        201,
        params={"kind": "proof_of_address"},
        data={"page": "1"},
        headers={"Content-Type": "application/pdf"},
    ),
    ("GET", "/v1/admin/users"): Probe(STAFF),
    ("GET", "/v1/admin/users/{user_id}"): Probe(STAFF, path=f"/v1/admin/users/{USER_ID}"),
    ("GET", "/v1/admin/users/{user_id}/kyc"): Probe(STAFF, path=f"/v1/admin/users/{USER_ID}/kyc"),
    ("POST", "/v1/admin/users/{user_id}/kyc/review"): Probe(
        STAFF, path=f"/v1/admin/users/{USER_ID}/kyc/review", json={"decision": "approve", "notes": "documents fine"}
    ),
    # The canned document belongs to the fake peer's user (fake_upstream.USER), so the path names that user.
    ("GET", "/v1/admin/users/{user_id}/kyc/documents/{document_id}"): Probe(
        STAFF,
        path="/v1/admin/users/00000000-0000-4000-8000-000000000001/kyc/documents/00000000-0000-4000-8000-0000000d0c01",
    ),
    ("GET", "/v1/admin/users/{user_id}/logins"): Probe(STAFF, path=f"/v1/admin/users/{USER_ID}/logins"),
    ("POST", "/v1/admin/users/{user_id}/suspend"): Probe(
        ADMIN, path=f"/v1/admin/users/{USER_ID}/suspend", json={"reason": "chargeback fraud"}
    ),
    ("POST", "/v1/admin/users/{user_id}/reinstate"): Probe(
        ADMIN, path=f"/v1/admin/users/{USER_ID}/reinstate", json={"reason": "cleared"}
    ),
    ("POST", "/v1/admin/users/{user_id}/terminate"): Probe(
        ADMIN, path=f"/v1/admin/users/{USER_ID}/terminate", json={"reason": "closed on request"}
    ),
    ("PUT", "/v1/admin/users/{user_id}/role"): Probe(
        ADMIN, path=f"/v1/admin/users/{USER_ID}/role", json={"role": "support", "reason": "hired"}
    ),
    ("POST", "/v1/admin/users/{user_id}/review-flags/{flag_id}/clear"): Probe(
        STAFF,
        path=f"/v1/admin/users/{USER_ID}/review-flags/00000000-0000-4000-8000-0000000f1a90/clear",
        json={"reason": "dispute won, customer confirmed the purchase"},
    ),
    ("PUT", "/v1/admin/users/{user_id}/ip-allow-list"): Probe(
        ADMIN, path=f"/v1/admin/users/{USER_ID}/ip-allow-list", json={"cidrs": ["203.0.113.0/24"]}
    ),
    # Orders and accounts (issue 5). The canned challenges peer answers only the catalogue, so an allowed call
    # comes back 501 (UNIMPLEMENTED) from it: that proves the gateway let it through; refusals are 401/403 first.
    ("POST", "/v1/orders"): Probe(
        TRADER,
        501,
        json={"program_id": "eval-50k", "success_url": "https://a.test/ok", "cancel_url": "https://a.test/no"},
        headers={"Idempotency-Key": "matrix-order-1"},
    ),
    ("GET", "/v1/orders/{order_id}"): Probe(SIGNED_IN, 501, path=f"/v1/orders/{USER_ID}"),
    ("GET", "/v1/accounts"): Probe(SIGNED_IN, 501),
    ("GET", "/v1/accounts/{account_id}"): Probe(SIGNED_IN, 501, path=f"/v1/accounts/{USER_ID}"),
    # The trader's own platform password (ADR 0045): staff never read it, whatever their MFA.
    ("GET", "/v1/accounts/{account_id}/credentials"): Probe(TRADER, 501, path=f"/v1/accounts/{USER_ID}/credentials"),
    ("POST", "/v1/accounts/{account_id}/reset"): Probe(
        TRADER,
        501,
        path=f"/v1/accounts/{USER_ID}/reset",
        json={"success_url": "https://a.test/ok", "cancel_url": "https://a.test/no"},
        headers={"Idempotency-Key": "matrix-reset-1"},
    ),
    ("POST", "/v1/accounts/{account_id}/retry"): Probe(
        TRADER,
        501,
        path=f"/v1/accounts/{USER_ID}/retry",
        headers={"Idempotency-Key": "matrix-retry-1"},
    ),
    ("POST", "/v1/accounts/{account_id}/subscription/cancel"): Probe(
        TRADER,
        501,
        path=f"/v1/accounts/{USER_ID}/subscription/cancel",
        headers={"Idempotency-Key": "matrix-cancel-subscription-1"},
    ),
    # Funding (ADR 0046): the agreement is read by anyone signed in; accepting it and funding are the trader's own.
    ("GET", "/v1/funded-agreement"): Probe(SIGNED_IN, 501),
    ("POST", "/v1/accounts/{account_id}/funded-agreement"): Probe(
        TRADER, 501, path=f"/v1/accounts/{USER_ID}/funded-agreement", json={"agreement_version": "2026-11"}
    ),
    ("POST", "/v1/accounts/{account_id}/fund"): Probe(
        TRADER, 501, path=f"/v1/accounts/{USER_ID}/fund", headers={"Idempotency-Key": "matrix-fund-1"}
    ),
    ("POST", "/v1/admin/accounts/{account_id}/fund"): Probe(
        ADMIN,
        501,
        path=f"/v1/admin/accounts/{USER_ID}/fund",
        json={"reason": "passed and checked"},
        headers={"Idempotency-Key": "matrix-admin-fund-1"},
    ),
    ("GET", "/v1/admin/accounts"): Probe(STAFF, 501),
    ("GET", "/v1/admin/accounts/{account_id}"): Probe(STAFF, 501, path=f"/v1/admin/accounts/{USER_ID}"),
    ("POST", "/v1/admin/accounts/{account_id}/suspend"): Probe(
        ADMIN,
        501,
        path=f"/v1/admin/accounts/{USER_ID}/suspend",
        json={"reason": "review"},
        headers={"Idempotency-Key": "matrix-suspend-1"},
    ),
    ("POST", "/v1/admin/accounts/{account_id}/reinstate"): Probe(
        ADMIN,
        501,
        path=f"/v1/admin/accounts/{USER_ID}/reinstate",
        json={"reason": "cleared"},
        headers={"Idempotency-Key": "matrix-reinstate-1"},
    ),
    ("POST", "/v1/admin/accounts/{account_id}/refund"): Probe(
        ADMIN,
        501,
        path=f"/v1/admin/accounts/{USER_ID}/refund",
        json={"reason": "customer request"},
        headers={"Idempotency-Key": "matrix-refund-1"},
    ),
    # Risk (issue 6). The canned peer does not serve RulesService, so an allowed call comes back 501 from it.
    ("GET", "/v1/accounts/{account_id}/risk"): Probe(SIGNED_IN, 501, path=f"/v1/accounts/{USER_ID}/risk"),
    ("GET", "/v1/accounts/{account_id}/violations"): Probe(SIGNED_IN, 501, path=f"/v1/accounts/{USER_ID}/violations"),
    ("GET", "/v1/admin/violations"): Probe(STAFF, 501),
    ("POST", "/v1/admin/violations/{violation_id}/review"): Probe(
        ADMIN, 501, path=f"/v1/admin/violations/{USER_ID}/review", json={"decision": "uphold", "reason": "checked"}
    ),
    # Authenticated by YourPropFirm's signature, not a bearer token: unsigned, every caller gets the same 400.
    ("POST", "/v1/webhooks/yourpropfirm"): Probe(PUBLIC, 400, json={"id": "evt_1", "type": "trade"}),
    # The WebSocket authenticates in its handshake (tests/integration/rules/test_gateway_routes.py); a plain HTTP
    # request matches no HTTP route, so every caller gets the same 404.
    ("WEBSOCKET", "/v1/ws"): Probe(PUBLIC, 404),
}


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) for every route the app serves, routes of included routers included.

    HEAD is left out where Starlette adds it to a GET route by itself: it answers as the GET does.
    """
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI keeps included routers as one entry each
            pairs = [(ctx.original_route, ctx.path) for ctx in route.effective_route_contexts()]
        else:
            pairs = [(route, route.path)]
        for original, path in pairs:
            methods = set(getattr(original, "methods", None) or {"WEBSOCKET"})
            if "GET" in methods:
                methods.discard("HEAD")
            found |= {(m, path) for m in methods}
    return found


@pytest.fixture(scope="module")
async def tokens(keys, redis) -> dict[str, str | None]:
    now = int(time.time())
    suspended_id = f"suspended-{uuid.uuid4().hex[:8]}"
    minted = {
        "anonymous": None,
        "trader": keys.mint(f"trader-{uuid.uuid4().hex[:8]}", "trader"),
        "support_no_mfa": keys.mint(f"support-{uuid.uuid4().hex[:8]}", "support"),
        "support_mfa": keys.mint(f"support-{uuid.uuid4().hex[:8]}", "support", amr=("pwd", "otp"), mfa_at=now),
        "admin_mfa": keys.mint(f"admin-{uuid.uuid4().hex[:8]}", "admin", amr=("pwd", "otp"), mfa_at=now),
        "suspended_trader": keys.mint(suspended_id, "trader"),
    }
    await suspend(redis, suspended_id)
    return minted


def test_every_route_has_an_entry(http):
    routes = app_routes(http.app)
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"routes without a role-matrix entry (add one): {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_each_route_answers_each_caller_as_the_matrix_says(http, upstream, tokens, principal):
    mismatches = []
    for (method, route_path), probe in MATRIX.items():
        token = tokens[principal]
        headers = {**probe.headers, **({"Authorization": f"Bearer {token}"} if token else {})}
        calls_before = len(upstream.identity.calls)
        reply = await http.request(
            method, probe.path or route_path, json=probe.json, data=probe.data, params=probe.params, headers=headers
        )
        expected = EXPECTED[probe.access][principal]
        want = probe.success if expected == OK else expected
        if reply.status_code != want:
            mismatches.append(f"{method} {route_path}: expected {want}, got {reply.status_code} {reply.text[:160]}")
            continue
        if expected != OK:
            # Refused at the gateway: a problem document, and identity never heard of the call.
            body = reply.json()
            if body.get("status") != want or len(upstream.identity.calls) != calls_before:
                mismatches.append(f"{method} {route_path}: refusal was not a gateway problem document: {body}")
            if want == 401 and not reply.headers.get("www-authenticate", "").startswith("Bearer"):
                mismatches.append(f"{method} {route_path}: 401 without WWW-Authenticate: Bearer")
    assert not mismatches, f"{principal}:\n" + "\n".join(mismatches)
