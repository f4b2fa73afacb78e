"""A generic OpenID Connect client (authorization code + PKCE) for every provider config: Google, Apple and the
devstack's provider. httpx for HTTP, tenacity for retries, PyJWT for the id_token.

- Discovery (/.well-known/openid-configuration) and the JWKS are fetched once and cached; an id_token signed with
  an unknown `kid` refetches the JWKS once (the provider rotated its keys).
- Idempotent GETs (discovery, JWKS) are retried with backoff on connection errors and 5xx. The code exchange is
  retried only when the request never left (connect errors): a code is single use, so resending one the provider
  may have consumed could only fail.
- The id_token is verified against the provider's JWKS: signature (RS256/ES256 only, never "none" or HS*), `iss`
  equal to the discovered issuer, `aud` containing our client id, `exp`/`iat` (60 s leeway), and our `nonce`.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import httpx
import jwt
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from libs.domain.errors import FailedPrecondition, Unauthenticated
from services.identity.domain.oauth import PKCE_METHOD, OAuthProvider, ProviderIdentity, truthy_claim

ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 60
DISCOVERY_TTL_SECONDS = 3600


class ProviderUnavailable(FailedPrecondition):
    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(
            f"sign-in with {provider} is unavailable right now ({detail})", reason="OAUTH_PROVIDER_UNAVAILABLE"
        )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


class HttpxOidcClient:
    def __init__(self, http: httpx.AsyncClient | None = None, *, attempts: int = 3) -> None:
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        self._attempts = attempts
        self._discovery: dict[str, tuple[float, dict]] = {}
        self._jwks: dict[str, jwt.PyJWKSet] = {}
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> dict:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception(_retryable),
            reraise=True,
        ):
            with attempt:
                reply = await self._http.get(url, headers={"accept": "application/json"})
                reply.raise_for_status()
                return reply.json()
        raise AssertionError("unreachable")  # AsyncRetrying re-raises the last error

    async def discovery(self, provider: OAuthProvider) -> dict:
        cached = self._discovery.get(provider.issuer)
        if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
            return cached[1]
        url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = await self._get_json(url)
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(provider.name, "discovery failed") from exc
        if document.get("issuer") != provider.issuer:
            # OIDC Discovery 4.3: the document must name the issuer we asked, or it could mint tokens for another.
            raise ProviderUnavailable(provider.name, "the discovery document names another issuer")
        self._discovery[provider.issuer] = (time.monotonic(), document)
        return document

    async def authorization_url(
        self, provider: OAuthProvider, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        endpoint = (await self.discovery(provider))["authorization_endpoint"]
        params = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(provider.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": PKCE_METHOD,
        }
        if provider.response_mode != "query":
            params["response_mode"] = provider.response_mode
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def exchange_code(
        self, provider: OAuthProvider, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        document = await self.discovery(provider)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth = None
        if provider.token_auth_method == "client_secret_post":
            form |= {"client_id": provider.client_id, "client_secret": provider.client_secret or ""}
        elif provider.client_secret:
            auth = httpx.BasicAuth(provider.client_id, provider.client_secret)
        else:
            form["client_id"] = provider.client_id
        reply = None
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception(lambda e: isinstance(e, httpx.ConnectError | httpx.ConnectTimeout)),
            reraise=True,
        ):
            with attempt:
                reply = await self._http.post(document["token_endpoint"], data=form, auth=auth)
        if reply.status_code >= 500:
            raise ProviderUnavailable(provider.name, f"token endpoint answered {reply.status_code}")
        try:
            body = reply.json()
        except ValueError:
            raise ProviderUnavailable(provider.name, "the token endpoint did not answer JSON") from None
        if reply.status_code != 200 or "id_token" not in body:
            # invalid_grant: an expired or reused code, a wrong verifier. The user starts again.
            raise Unauthenticated(
                f"{provider.name} refused the sign-in ({body.get('error', 'no id_token')}); start again",
                reason="OAUTH_CODE_REJECTED",
            )
        claims = await self._verify_id_token(provider, document, body["id_token"], nonce)
        return ProviderIdentity(
            provider=provider.name,
            subject=str(claims["sub"]),
            email=(claims.get("email") or "").strip().lower() or None,
            email_verified=truthy_claim(claims.get("email_verified")),
        )

    async def _verify_id_token(self, provider: OAuthProvider, document: dict, id_token: str, nonce: str) -> dict:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise Unauthenticated("the provider's id_token is malformed", reason="OAUTH_ID_TOKEN_INVALID") from None
        if header.get("alg") not in ID_TOKEN_ALGORITHMS:
            raise Unauthenticated("the id_token's algorithm is not accepted", reason="OAUTH_ID_TOKEN_INVALID")
        key = await self._signing_key(provider, document, header.get("kid"))
        try:
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=provider.client_id,
                issuer=document["issuer"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(
                f"the provider's id_token failed verification: {exc}", reason="OAUTH_ID_TOKEN_INVALID"
            ) from None
        if claims.get("nonce") != nonce:
            raise Unauthenticated(
                "the id_token was not issued for this sign-in (nonce)", reason="OAUTH_ID_TOKEN_INVALID"
            )
        return claims

    async def _signing_key(self, provider: OAuthProvider, document: dict, kid: str | None):
        for refresh in (False, True):
            keys = await self._key_set(provider, document, refresh=refresh)
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        raise Unauthenticated("the id_token names a key the provider does not publish", reason="OAUTH_ID_TOKEN_INVALID")

    async def _key_set(self, provider: OAuthProvider, document: dict, *, refresh: bool) -> jwt.PyJWKSet:
        async with self._lock:
            if refresh or provider.issuer not in self._jwks:
                try:
                    raw = await self._get_json(document["jwks_uri"])
                    self._jwks[provider.issuer] = jwt.PyJWKSet.from_json(json.dumps(raw))
                except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                    raise ProviderUnavailable(provider.name, "its signing keys could not be fetched") from exc
            return self._jwks[provider.issuer]
