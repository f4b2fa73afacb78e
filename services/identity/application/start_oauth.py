"""Command: begin an OAuth / OIDC sign-in (authorization code + PKCE) and return the provider URL.

state, nonce and the PKCE verifier are fresh 256-bit random values; all three stay server-side (Redis, single use,
short TTL) with the redirect URI, so the browser only ever carries the state and the S256 challenge.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from libs.domain.errors import InvalidArgument, NotFound
from services.identity.application.kyc_ports import OAuthStateStore, OidcClient, PendingAuthorization
from services.identity.domain.oauth import OAuthProvider, pkce_challenge


@dataclass(frozen=True)
class StartOAuth:
    provider: str
    redirect_uri: str


@dataclass(frozen=True)
class OAuthStart:
    authorization_url: str
    state: str


def provider_named(providers: Mapping[str, OAuthProvider], name: str) -> OAuthProvider:
    provider = providers.get((name or "").strip().lower())
    if provider is None:
        raise NotFound(f"no sign-in provider {name!r} is configured", reason="OAUTH_PROVIDER_UNKNOWN")
    return provider


class StartOAuthHandler:
    def __init__(
        self,
        providers: Mapping[str, OAuthProvider],
        oidc: OidcClient,
        states: OAuthStateStore,
        *,
        state_ttl_seconds: int,
    ) -> None:
        self._providers = providers
        self._oidc = oidc
        self._states = states
        self._ttl = state_ttl_seconds

    async def __call__(self, cmd: StartOAuth) -> OAuthStart:
        provider = provider_named(self._providers, cmd.provider)
        parts = urlsplit(cmd.redirect_uri or "")
        if parts.scheme not in ("https", "http") or not parts.netloc or len(cmd.redirect_uri) > 2048:
            raise InvalidArgument("redirect_uri must be an absolute http(s) URL", field="redirect_uri")
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        url = await self._oidc.authorization_url(
            provider,
            redirect_uri=cmd.redirect_uri,
            state=state,
            nonce=nonce,
            code_challenge=pkce_challenge(verifier),
        )
        await self._states.put(
            state,
            PendingAuthorization(
                provider=provider.name, redirect_uri=cmd.redirect_uri, nonce=nonce, code_verifier=verifier
            ),
            self._ttl,
        )
        return OAuthStart(authorization_url=url, state=state)
