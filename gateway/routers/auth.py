"""/v1/auth: registration, sign-in (password, MFA, OAuth), sessions, TOTP enrolment and step-up; all answered by
the identity service. Registration, verification, login, refresh and OAuth are public; the rest need a token.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Cookie, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from gateway.auth import CurrentUser, SignedIn
from gateway.client import client_context
from gateway.identity_models import (
    SessionOut,
    SignInOut,
    UserOut,
    session_out,
    sign_in_out,
    timestamp_or_none,
    user_out,
)
from gateway.routers.identity_calls import identity_rpc
from libs.domain.errors import InvalidArgument

router = APIRouter(prefix="/v1/auth", tags=["auth"])

OAUTH_STATE_COOKIE = "dynasty_oauth_state"
OAUTH_STATE_SECONDS = 600
PROVIDER = Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description='"google", "apple" (or "devstack" locally)')
Email = Annotated[str, Field(min_length=3, max_length=320, examples=["trader@example.com"])]
# The upper bound only stops a megabyte "password" from tying up argon2; NIST asks us to accept at least 64.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
TotpCode = Annotated[str, Field(pattern=r"^[0-9]{6,8}$", examples=["123456"])]


class Credentials(BaseModel):
    email: Email
    password: Password


class Registered(BaseModel):
    message: str


class VerifyEmailIn(BaseModel):
    token: str = Field(min_length=1, max_length=4096)


class MfaLoginIn(BaseModel):
    mfa_token: str = Field(min_length=1, max_length=4096)
    totp_code: TotpCode | None = None
    recovery_code: str | None = Field(default=None, min_length=1, max_length=64)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutIn(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=4096)


class LoggedOutEverywhere(BaseModel):
    sessions_revoked: int


class TotpEnrolment(BaseModel):
    provisioning_uri: str = Field(description="otpauth:// URI to show as a QR code")
    secret: str = Field(description="The base32 secret, for manual entry")


class TotpCodeIn(BaseModel):
    totp_code: TotpCode


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="One-time codes, shown once; keep them safe")


class SteppedUp(BaseModel):
    access_token: str
    access_token_expires_at: datetime | None


def _pb():
    from dynasty.identity.v1 import identity_service_pb2 as pb

    return pb


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, response_model=Registered, summary="Register")
async def register(request: Request, body: Credentials) -> Registered:
    """The same answer whether or not the email is already registered (no account enumeration)."""
    pb = _pb()
    reply = await identity_rpc(
        request,
        "Register",
        pb.RegisterRequest(email=body.email, password=body.password, client=client_context(request)),
    )
    return Registered(message=reply.message)


@router.post("/verify-email", response_model=UserOut, summary="Verify the email with the emailed token")
async def verify_email(request: Request, body: VerifyEmailIn) -> UserOut:
    reply = await identity_rpc(request, "VerifyEmail", _pb().VerifyEmailRequest(token=body.token))
    return user_out(reply.user)


@router.post("/login", response_model=SignInOut, summary="Sign in with email and password")
async def login(request: Request, body: Credentials) -> SignInOut:
    """A session, or (TOTP enrolled) an MFA challenge. Throttled attempts are 429 with Retry-After."""
    pb = _pb()
    reply = await identity_rpc(
        request, "Login", pb.LoginRequest(email=body.email, password=body.password, client=client_context(request))
    )
    return sign_in_out(reply)


@router.post("/login/mfa", response_model=SignInOut, summary="Finish a sign-in with a TOTP or recovery code")
async def login_mfa(request: Request, body: MfaLoginIn) -> SignInOut:
    if not body.totp_code and not body.recovery_code:
        raise InvalidArgument("give a totp_code or a recovery_code", field="totp_code")
    pb = _pb()
    reply = await identity_rpc(
        request,
        "CompleteMfaLogin",
        pb.CompleteMfaLoginRequest(
            mfa_token=body.mfa_token,
            totp_code=body.totp_code or "",
            recovery_code=body.recovery_code or "",
            client=client_context(request),
        ),
    )
    return SignInOut(session=session_out(reply.session))


@router.post("/refresh", response_model=SessionOut, summary="Rotate the refresh token for a new session")
async def refresh(request: Request, body: RefreshIn) -> SessionOut:
    """A refresh token used twice ends its whole family (401)."""
    pb = _pb()
    reply = await identity_rpc(
        request,
        "RefreshSession",
        pb.RefreshSessionRequest(refresh_token=body.refresh_token, client=client_context(request)),
    )
    return session_out(reply.session)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
async def logout(request: Request, claims: CurrentUser, body: LogoutIn | None = None) -> Response:
    refresh_token = body.refresh_token if body is not None else None
    await identity_rpc(request, "Logout", _pb().LogoutRequest(refresh_token=refresh_token or ""), claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout-everywhere", response_model=LoggedOutEverywhere, summary="End every session of the caller")
async def logout_everywhere(request: Request, claims: CurrentUser) -> LoggedOutEverywhere:
    reply = await identity_rpc(request, "LogoutEverywhere", _pb().LogoutEverywhereRequest(), claims)
    return LoggedOutEverywhere(sessions_revoked=reply.sessions_revoked)


@router.post("/mfa/totp", response_model=TotpEnrolment, summary="Start TOTP enrolment")
async def enrol_totp(request: Request, claims: CurrentUser) -> TotpEnrolment:
    reply = await identity_rpc(request, "EnrollTotp", _pb().EnrollTotpRequest(), claims)
    return TotpEnrolment(provisioning_uri=reply.provisioning_uri, secret=reply.secret)


@router.post("/mfa/totp/verify", response_model=RecoveryCodes, summary="Confirm TOTP with a first code")
async def confirm_totp(request: Request, claims: CurrentUser, body: TotpCodeIn) -> RecoveryCodes:
    reply = await identity_rpc(request, "ConfirmTotp", _pb().ConfirmTotpRequest(totp_code=body.totp_code), claims)
    return RecoveryCodes(recovery_codes=list(reply.recovery_codes))


@router.post("/mfa/step-up", response_model=SteppedUp, summary="Prove a fresh TOTP for a sensitive call")
async def step_up(request: Request, claims: SignedIn, body: TotpCodeIn) -> SteppedUp:
    reply = await identity_rpc(request, "StepUp", _pb().StepUpRequest(totp_code=body.totp_code), claims)
    return SteppedUp(
        access_token=reply.access_token, access_token_expires_at=timestamp_or_none(reply.access_token_expires_at)
    )


def _callback_url(request: Request, provider: str) -> str:
    base = request.app.state.settings.public_base_url
    path = request.app.url_path_for("oauth_callback", provider=provider)
    return f"{base.rstrip('/')}{path}" if base else str(request.url_for("oauth_callback", provider=provider))


@router.get(
    "/oauth/{provider}",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    summary="Start an OAuth / OIDC sign-in (302 to the provider)",
    responses={302: {"description": "To the provider's authorization page"}},
)
async def oauth_start(request: Request, provider: Annotated[str, PROVIDER]) -> RedirectResponse:
    pb = _pb()
    reply = await identity_rpc(
        request, "StartOAuth", pb.StartOAuthRequest(provider=provider, redirect_uri=_callback_url(request, provider))
    )
    redirect = RedirectResponse(reply.authorization_url, status_code=status.HTTP_302_FOUND)
    # The state is bound to this browser: the callback accepts only the state this cookie carries (login CSRF).
    redirect.set_cookie(
        OAUTH_STATE_COOKIE,
        reply.state,
        max_age=OAUTH_STATE_SECONDS,
        path="/v1/auth/oauth",
        secure=True,
        httponly=True,
        samesite=_same_site(provider),
    )
    return redirect


def _same_site(provider: str) -> str:
    """Apple answers with a cross-site form POST, which a SameSite=Lax cookie does not ride along with; its state
    cookie is SameSite=None (still Secure, HttpOnly, path-scoped and single-use server-side)."""
    return "none" if provider == "apple" else "lax"


@router.get(
    "/oauth/{provider}/callback",
    name="oauth_callback",
    response_model=SignInOut,
    summary="The provider's redirect back: finish the OAuth sign-in",
)
async def oauth_callback(
    request: Request,
    response: Response,
    provider: Annotated[str, PROVIDER],
    code: Annotated[str, Query(min_length=1, max_length=4096)],
    state: Annotated[str, Query(min_length=1, max_length=1024)],
    state_cookie: Annotated[str | None, Cookie(alias=OAUTH_STATE_COOKIE)] = None,
) -> SignInOut:
    return await _finish_oauth(request, response, provider, code, state, state_cookie)


MAX_FORM_POST_BYTES = 16 * 1024


@router.post(
    "/oauth/{provider}/callback",
    response_model=SignInOut,
    summary="The provider's form POST back (Apple's response_mode=form_post): finish the OAuth sign-in",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["code", "state"],
                        "properties": {
                            "code": {"type": "string"},
                            "state": {"type": "string"},
                            "user": {"type": "string", "description": "Apple: name and email, first sign-in only"},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def oauth_callback_form_post(
    request: Request,
    response: Response,
    provider: Annotated[str, PROVIDER],
    state_cookie: Annotated[str | None, Cookie(alias=OAUTH_STATE_COOKIE)] = None,
) -> SignInOut:
    """Apple POSTs code, state and (first time only) a `user` JSON with the name; we keep no name, so `user` is
    accepted and ignored. Parsed by hand: the body is a small urlencoded form, no multipart parser needed."""
    body = await request.body()
    if len(body) > MAX_FORM_POST_BYTES or not request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        raise InvalidArgument("the callback takes a small application/x-www-form-urlencoded form", field="body")
    form = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    code = (form.get("code") or [""])[0]
    state = (form.get("state") or [""])[0]
    if not 1 <= len(code) <= 4096:
        raise InvalidArgument("code is required", field="code")
    if not 1 <= len(state) <= 1024:
        raise InvalidArgument("state is required", field="state")
    return await _finish_oauth(request, response, provider, code, state, state_cookie)


async def _finish_oauth(
    request: Request, response: Response, provider: str, code: str, state: str, state_cookie: str | None
) -> SignInOut:
    if not state_cookie or not secrets.compare_digest(state_cookie.encode(), state.encode()):
        raise InvalidArgument("the sign-in state does not match this browser; start again", field="state")
    pb = _pb()
    reply = await identity_rpc(
        request,
        "CompleteOAuth",
        pb.CompleteOAuthRequest(provider=provider, code=code, state=state, client=client_context(request)),
    )
    response.delete_cookie(
        OAUTH_STATE_COOKIE, path="/v1/auth/oauth", secure=True, httponly=True, samesite=_same_site(provider)
    )
    return sign_in_out(reply, created=reply.created)
