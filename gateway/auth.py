"""Authentication and authorization at the gateway, as FastAPI dependencies.

`current_user` verifies the bearer token (signature against identity's cached JWK Set, expiry, issuer, audience,
then the Redis revocation keys: one pipelined round trip, no call to identity). On top of it:

- `signed_in`: the house policy for every signed-in route: support and admin must have signed in with TOTP
  ("otp" in amr). Staff without it reach only what `current_user` guards directly: /v1/me, TOTP enrolment, logout.
- `require_role(*roles)`: signed_in and one of the roles.
- `require_mfa`: "otp" in amr, whatever the role.
- `require_step_up(max_age)`: a TOTP checked within max_age seconds (payout requests, payout-detail changes).

Refusals raise domain errors; the app's handlers turn Unauthenticated into 401 with `WWW-Authenticate: Bearer` and
PermissionDenied into 403. The verified Claims are what routes forward to services (which verify them again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.domain.errors import PermissionDenied, Unauthenticated
from libs.platform.auth import STAFF_ROLES, Claims, TokenVerifier

# auto_error=False: a missing header is our 401 problem document, not FastAPI's 403. The scheme still documents
# the routes as bearer-protected in OpenAPI.
_bearer_scheme = HTTPBearer(auto_error=False, description="The access token from /v1/auth/login")


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]
) -> Claims:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise Unauthenticated("sign in: this route needs a bearer access token", reason="UNAUTHENTICATED")
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(credentials.credentials.strip())


CurrentUser = Annotated[Claims, Depends(current_user)]


async def signed_in(claims: CurrentUser) -> Claims:
    if claims.role in STAFF_ROLES and not claims.has_mfa:
        raise PermissionDenied(
            f"{claims.role} accounts must sign in with TOTP; enrol at /v1/auth/mfa/totp and sign in again",
            reason="MFA_REQUIRED",
        )
    return claims


SignedIn = Annotated[Claims, Depends(signed_in)]


def require_role(*roles: str) -> Callable[..., Awaitable[Claims]]:
    allowed = frozenset(roles)

    async def role_guard(claims: SignedIn) -> Claims:
        if claims.role not in allowed:
            raise PermissionDenied(f"this route is for {', '.join(sorted(allowed))}", reason="PERMISSION_DENIED")
        return claims

    return role_guard


async def require_mfa(claims: CurrentUser) -> Claims:
    if not claims.has_mfa:
        raise PermissionDenied("this route needs a session signed in with TOTP", reason="MFA_REQUIRED")
    return claims


def require_step_up(max_age_seconds: int) -> Callable[..., Awaitable[Claims]]:
    async def step_up_guard(claims: Annotated[Claims, Depends(require_mfa)]) -> Claims:
        if not claims.mfa_fresh_within(max_age_seconds):
            raise PermissionDenied(
                f"confirm with a fresh TOTP code first (POST /v1/auth/mfa/step-up); it is valid {max_age_seconds}s",
                reason="STEP_UP_REQUIRED",
                max_age_seconds=str(max_age_seconds),
            )
        return claims

    return step_up_guard


Staff = Annotated[Claims, Depends(require_role("support", "admin"))]
Admin = Annotated[Claims, Depends(require_role("admin"))]
