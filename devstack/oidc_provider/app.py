"""The provider's HTTP surface: discovery, /authorize, /token, /jwks, /userinfo and /healthz.

Errors follow RFC 6749: an unknown client or an unregistered redirect_uri is shown to the user and never
redirected (4.1.2.1); every other authorization error goes back to the client's redirect_uri with `error`,
`error_description` and `state`; the token endpoint answers JSON `{"error", "error_description"}` with 400, or 401
for client authentication failures. PKCE is mandatory and S256 only (RFC 7636), so a client that forgets it fails
here as it would with a strict provider.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from devstack.oidc_provider.config import Client, ProviderConfig, User
from devstack.oidc_provider.keys import SigningKey

_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    nonce: str | None
    user: User
    issued_at: float
    expires_at: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    user: User
    client_id: str
    scope: str
    expires_at: float
    revoked: bool = False


class AuthorizeError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="token"'
        return JSONResponse({"error": self.error, "error_description": self.description}, self.status, headers)


@dataclass
class Provider:
    issuer: str
    config: ProviderConfig
    key: SigningKey
    clock: Callable[[], float] = time.time
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    apple_users_seen: set[tuple[str, str]] = field(default_factory=set)

    # -- discovery and keys -----------------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "name"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss", "aud", "azp", "sub", "iat", "exp", "auth_time", "nonce", "at_hash",
                "email", "email_verified", "name", "is_private_email",
            ],
        }  # fmt: skip

    # -- /authorize -------------------------------------------------------------------------------------------------
    def client_and_redirect(self, params: dict[str, str]) -> tuple[Client, str]:
        """The two checks whose failure must not redirect (the redirect target itself is untrusted)."""
        client = self.config.clients.get(params.get("client_id", ""))
        if client is None:
            raise AuthorizeError("invalid_client", "The OAuth client was not found.")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise AuthorizeError("redirect_uri_mismatch", "redirect_uri is not registered for this client.")
        return client, redirect_uri

    def check_request(self, client: Client, params: dict[str, str]) -> None:
        if params.get("response_type") != "code":
            raise AuthorizeError("unsupported_response_type", "Only response_type=code is supported.")
        scopes = params.get("scope", "").split()
        if "openid" not in scopes:
            raise AuthorizeError("invalid_scope", "The openid scope is required.")
        if not params.get("code_challenge"):
            raise AuthorizeError("invalid_request", "code_challenge is required (PKCE).")
        if params.get("code_challenge_method") != "S256":
            raise AuthorizeError("invalid_request", "code_challenge_method must be S256.")
        if not _PKCE_VALUE.match(params["code_challenge"]):
            raise AuthorizeError("invalid_request", "code_challenge is malformed.")
        mode = params.get("response_mode", "query")
        if mode not in ("query", "form_post"):
            raise AuthorizeError("invalid_request", "response_mode must be query or form_post.")
        if client.flavor == "apple" and {"email", "name"} & set(scopes) and mode != "form_post":
            raise AuthorizeError("invalid_request", "response_mode must be form_post when name or email is requested.")

    def issue_code(self, client: Client, redirect_uri: str, params: dict[str, str], user: User) -> str:
        code = secrets.token_urlsafe(32)
        now = self.clock()
        self.codes[code] = AuthorizationCode(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            code_challenge=params["code_challenge"],
            scope=params.get("scope", "openid"),
            nonce=params.get("nonce"),
            user=user,
            issued_at=now,
            expires_at=now + self.config.code_ttl_seconds,
        )
        return code

    def respond(self, client: Client, redirect_uri: str, params: dict[str, str], answer: dict[str, str]) -> Response:
        if params.get("state") is not None:
            answer["state"] = params["state"]
        if params.get("response_mode") == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in answer.items()
            )
            page = (
                f'<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" '
                f'action="{html.escape(redirect_uri)}">{fields}<noscript><button>Continue</button></noscript>'
                "</form></body></html>"
            )
            return HTMLResponse(page, headers=_NO_STORE)
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302, headers=_NO_STORE)

    def approve(self, client: Client, redirect_uri: str, params: dict[str, str], user: User) -> Response:
        answer = {"code": self.issue_code(client, redirect_uri, params, user)}
        scopes = params.get("scope", "").split()
        if client.flavor == "apple" and "name" in scopes and (client.client_id, user.sub) not in self.apple_users_seen:
            # Apple sends the user's name once, on the first authorization, and never in the id_token.
            first, _, last = user.name.partition(" ")
            answer["user"] = json.dumps({"name": {"firstName": first, "lastName": last}, "email": user.email})
        if client.flavor == "apple":
            self.apple_users_seen.add((client.client_id, user.sub))
        return self.respond(client, redirect_uri, params, answer)

    # -- /token -----------------------------------------------------------------------------------------------------
    def authenticate_client(self, request: Request, form: dict[str, str]) -> Client:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except ValueError:
                raise TokenError("invalid_client", "Malformed Basic credentials.", 401) from None
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, secret = unquote(basic_id), unquote(basic_secret)
        client = self.config.clients.get(client_id or "")
        if client is None:
            raise TokenError("invalid_client", "The OAuth client was not found.", 401)
        if client.client_secret is not None and not (
            secret and secrets.compare_digest(secret.encode(), client.client_secret.encode())
        ):
            raise TokenError("invalid_client", "Client authentication failed.", 401)
        return client

    def exchange(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "authorization_code":
            raise TokenError("unsupported_grant_type", "Only grant_type=authorization_code is supported.")
        code_value = form.get("code")
        if not code_value:
            raise TokenError("invalid_request", "code is required.")
        code = self.codes.get(code_value)
        if code is None or code.client_id != client.client_id:
            raise TokenError("invalid_grant", "The authorization code is invalid.")
        if code.used:
            # RFC 6749 10.5: a replayed code means it leaked; revoke what it already bought.
            for token in code.access_tokens:
                self.tokens[token].revoked = True
            raise TokenError("invalid_grant", "The authorization code has already been used.")
        if self.clock() >= code.expires_at:
            raise TokenError("invalid_grant", "The authorization code has expired.")
        if form.get("redirect_uri") != code.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri does not match the authorization request.")
        verifier = form.get("code_verifier")
        if not verifier:
            raise TokenError("invalid_grant", "Missing code verifier.")
        if not _PKCE_VALUE.match(verifier) or not secrets.compare_digest(s256(verifier), code.code_challenge):
            raise TokenError("invalid_grant", "The code verifier does not match the code challenge.")
        code.used = True
        return self.tokens_for(code, client)

    def tokens_for(self, code: AuthorizationCode, client: Client) -> dict[str, Any]:
        now = self.clock()
        access_token = secrets.token_urlsafe(32)
        self.tokens[access_token] = AccessToken(
            code.user, client.client_id, code.scope, now + self.config.token_ttl_seconds
        )
        code.access_tokens.append(access_token)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": client.client_id,
            "azp": client.client_id,
            "sub": code.user.sub,
            "iat": int(now),
            "exp": int(now) + self.config.token_ttl_seconds,
            "auth_time": int(code.issued_at),
            "at_hash": _at_hash(access_token),
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        scopes = code.scope.split()
        if "email" in scopes:
            claims["email"] = code.user.email
            # Apple writes booleans as strings in its id_tokens; a generic client has to accept both.
            verified = code.user.email_verified
            claims["email_verified"] = ("true" if verified else "false") if client.flavor == "apple" else verified
            if client.flavor == "apple":
                claims["is_private_email"] = "false"
        if "profile" in scopes and client.flavor != "apple":
            claims["name"] = code.user.name
        id_token = jwt.encode(claims, self.key.private_key, algorithm="RS256", headers={"kid": self.key.kid})
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.config.token_ttl_seconds,
            "id_token": id_token,
            "scope": code.scope,
        }

    def userinfo(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        token = self.tokens.get(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if token is None or token.revoked or self.clock() >= token.expires_at:
            raise TokenError("invalid_token", "The access token is invalid, expired or revoked.", 401)
        info: dict[str, Any] = {"sub": token.user.sub}
        scopes = token.scope.split()
        if "email" in scopes:
            info["email"] = token.user.email
            info["email_verified"] = token.user.email_verified
        if "profile" in scopes:
            info["name"] = token.user.name
        return info


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


async def _params(request: Request) -> dict[str, str]:
    if request.method == "POST":
        return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    return dict(request.query_params)


def build_app(provider: Provider) -> Starlette:
    async def discovery(_request: Request) -> Response:
        return JSONResponse(provider.discovery())

    async def jwks(_request: Request) -> Response:
        return JSONResponse({"keys": [provider.key.jwk()]})

    async def authorize(request: Request) -> Response:
        params = await _params(request)
        try:
            client, redirect_uri = provider.client_and_redirect(params)
        except AuthorizeError as exc:
            return HTMLResponse(_error_page(exc), status_code=400)
        try:
            provider.check_request(client, params)
            hint = params.get("login_hint") or params.get("email")  # `email`: the sign-in form's field
            if hint:
                user = provider.config.user_for(hint)
                if user is None:
                    raise AuthorizeError("access_denied", f"No account for {hint}.")
                return provider.approve(client, redirect_uri, params, user)
            if params.get("prompt") == "none":
                raise AuthorizeError("login_required", "The user must sign in.")
        except AuthorizeError as exc:
            return provider.respond(
                client, redirect_uri, params, {"error": exc.error, "error_description": exc.description}
            )
        return HTMLResponse(_sign_in_page(provider, params), headers=_NO_STORE)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        try:
            client = provider.authenticate_client(request, form)
            return JSONResponse(provider.exchange(client, form), headers=_NO_STORE)
        except TokenError as exc:
            return exc.response()

    async def userinfo(request: Request) -> Response:
        try:
            return JSONResponse(provider.userinfo(request))
        except TokenError as exc:
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description},
                401,
                {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.description}"'},
            )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks, methods=["GET"]),
            Route("/userinfo", userinfo, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _error_page(exc: AuthorizeError) -> str:
    return (
        "<!doctype html><html><body><h1>Sign-in error</h1>"
        f"<p><b>{html.escape(exc.error)}</b>: {html.escape(exc.description)}</p></body></html>"
    )


def _sign_in_page(provider: Provider, params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in ("email", "login_hint")
    )
    buttons = "".join(
        f'<button name="email" value="{html.escape(u.email)}">Sign in as {html.escape(u.name)} '
        f"&lt;{html.escape(u.email)}&gt;</button><br>"
        for u in provider.config.users.values()
    )
    return f"""<!doctype html><html><head><title>Sign in (devstack OIDC provider)</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto"><h1>Sign in</h1>
<p>Devstack OpenID provider at {html.escape(provider.issuer)}, for client
<code>{html.escape(params.get("client_id", ""))}</code>.</p>
<form method="post" action="/authorize">{hidden}{buttons}
<p><input name="email" type="email" placeholder="any.address@example.test"> <button>Sign in</button></p></form>
</body></html>"""
