"""The identity journey through the gateway of the real stack (four services and the gateway as processes, real
PostgreSQL and Redis): register, read the verification mail from the devstack mailbox, verify, log in, enrol TOTP,
GET /v1/me; an admin (seeded with the devstack's demo seed, signing in with TOTP) suspends the user, whose very next
call is refused with 403.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pyotp
import pytest

from libs.platform.mailbox import read_mailbox

PASSWORD = "a quiet orange lighthouse"
VERIFY_LINK = re.compile(r"verify-email\?token=(\S+)")


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


def mail_folder(stack) -> Path:
    """Where the identity service of this stack writes mail: the supervisor's mailbox, else identity's default."""
    from libs.platform.settings import IdentitySettings
    from services.identity.adapters.composition import repo_path

    configured = getattr(stack, "mail_dir", None)
    if configured is not None:
        return Path(configured)
    return repo_path(IdentitySettings.model_fields["identity_mail_dir"].default)


def verification_token(stack, email: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in read_mailbox(mail_folder(stack), to=email):
            found = VERIFY_LINK.search(message.get_content())
            if found:
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no verification mail to {email} in {mail_folder(stack)}")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fresh_code(secret: str) -> str:
    """A code for the current 30 s step; wait for the next step if this one is about to end (clock skew)."""
    totp = pyotp.TOTP(secret)
    if 30 - time.time() % 30 < 3:
        time.sleep(3.5)
    return totp.now()


@pytest.fixture(scope="module")
async def admin_token(stack, http, own_database_url, redis_url) -> str:
    """An access token of the devstack admin (identity's demo seed, run against this stack's database), signed in
    through the gateway with password and TOTP. Once per module: a TOTP code is accepted once."""
    from libs.platform.settings import IdentitySettings
    from services.identity.adapters.demo_seed import seed_demo_users

    admin = await seed_demo_users(IdentitySettings(DATABASE_URL=own_database_url, REDIS_URL=redis_url))
    reply = http.post("/v1/auth/login", json={"email": admin.admin_email, "password": admin.admin_password})
    assert reply.status_code == 200, reply.text
    assert reply.json()["mfa_required"] is True, "staff must be asked for TOTP"
    code = fresh_code(admin.admin_totp_secret)
    reply = http.post("/v1/auth/login/mfa", json={"mfa_token": reply.json()["mfa_token"], "totp_code": code})
    assert reply.status_code == 200, reply.text
    return reply.json()["session"]["access_token"]


def test_register_verify_login_enrol_totp_then_suspension_refuses_the_next_call(stack, http, admin_token):
    email = f"trader-{uuid.uuid4().hex[:10]}@example.com"

    reply = http.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 202, reply.text

    # Not verified yet: no session.
    reply = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 409 and reply.json()["reason"] == "EMAIL_NOT_VERIFIED", reply.text

    reply = http.post("/v1/auth/verify-email", json={"token": verification_token(stack, email)})
    assert reply.status_code == 200, reply.text
    assert reply.json()["email"] == email and reply.json()["email_verified"] is True

    # X-Forwarded-For from a client the gateway was not told to trust is not believed (nor by uvicorn).
    reply = http.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": "6.6.6.6", "User-Agent": "e2e-browser/1.0"},
    )
    assert reply.status_code == 200, reply.text
    session = reply.json()["session"]
    access = session["access_token"]

    reply = http.post("/v1/auth/mfa/totp", headers=bearer(access))
    assert reply.status_code == 200, reply.text
    secret = reply.json()["secret"]
    assert reply.json()["provisioning_uri"].startswith("otpauth://totp/")
    reply = http.post("/v1/auth/mfa/totp/verify", json={"totp_code": fresh_code(secret)}, headers=bearer(access))
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["recovery_codes"]) >= 8

    reply = http.get("/v1/me", headers=bearer(access))
    assert reply.status_code == 200, reply.text
    me = reply.json()
    logins = http.get("/v1/me/logins", headers=bearer(access)).json()["events"]
    assert (logins[0]["ip"], logins[0]["user_agent"], logins[0]["succeeded"]) == ("127.0.0.1", "e2e-browser/1.0", True)
    assert (me["email"], me["role"], me["status"], me["mfa_enabled"]) == (email, "trader", "active", True)

    # With TOTP on, a new sign-in asks for the second factor.
    reply = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200 and reply.json()["mfa_required"] is True and reply.json()["session"] is None

    # An admin suspends the user: the user's very next call is refused.
    reply = http.post(
        f"/v1/admin/users/{me['id']}/suspend", json={"reason": "e2e: chargeback fraud"}, headers=bearer(admin_token)
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "suspended"
    reply = http.get("/v1/me", headers=bearer(access))
    assert reply.status_code == 403, reply.text
    assert reply.json()["reason"] == "PERMISSION_DENIED"
    # The refresh token died with the suspension too.
    refreshed = http.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code in (401, 403), refreshed.text


def test_staff_list_users_with_their_token_and_a_forged_one_is_401(http, admin_token):
    reply = http.get("/v1/admin/users", params={"page_size": 5}, headers=bearer(admin_token))
    assert reply.status_code == 200, reply.text
    forged = admin_token[:-4] + ("AAAA" if not admin_token.endswith("AAAA") else "BBBB")
    reply = http.get("/v1/admin/users", headers=bearer(forged))
    assert reply.status_code == 401 and reply.headers["www-authenticate"].startswith("Bearer")
