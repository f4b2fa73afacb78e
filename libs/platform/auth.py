"""Access tokens: the claims they carry, how they are verified, and how sessions and users are revoked.

Identity signs short-lived JWTs with an asymmetric key named by `kid` and publishes its JWK Set (GetJwks).
Verifiers (the gateway on every request, each service again on every call) cache the JWK Set, so verifying costs
no network call; a token with an unknown `kid` triggers one refresh (key rotation). Revocation is immediate through
Redis: identity writes a key for a revoked session (logout) or user (suspension, logout everywhere) and verifiers
check it on every request (one Redis round trip, pipelined).

Key shapes (the contract between identity and every verifier):
    auth:revoked-session:<session_id>  -> "1", TTL = the access token lifetime
    auth:revoked-user:<user_id>        -> JSON {"before": <unix seconds>, "reason": <why>}
        with <why> one of "suspended", "terminated", "logout_all", "reinstated": every token of that user issued
        at or before `before` is dead; "suspended"/"terminated" answer 403, the others 401.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt

from libs.domain.errors import PermissionDenied, Unauthenticated

ISSUER = "dynasty-identity"
AUDIENCE = "dynasty-api"
ALLOWED_ALGORITHMS = ("ES256", "RS256", "EdDSA")  # never "none", never HS* (a public key is not a secret)
STAFF_ROLES = frozenset({"support", "admin"})


def revoked_session_key(session_id: str) -> str:
    return f"auth:revoked-session:{session_id}"


def revoked_user_key(user_id: str) -> str:
    return f"auth:revoked-user:{user_id}"


@dataclass(frozen=True)
class Claims:
    user_id: str
    role: str
    session_id: str
    issued_at: int
    expires_at: int
    amr: tuple[str, ...]  # authentication methods: "pwd", "oauth", "otp"
    mfa_at: int | None  # when a TOTP was last checked in this session (step-up freshness)
    token: str  # the raw token, forwarded to services

    @property
    def has_mfa(self) -> bool:
        return "otp" in self.amr

    def mfa_fresh_within(self, seconds: int, now: float | None = None) -> bool:
        return self.mfa_at is not None and (now or time.time()) - self.mfa_at <= seconds


JwksSource = Callable[[], Awaitable[dict]]


class TokenVerifier:
    """Verifies access tokens against a cached JWK Set and the Redis revocation keys."""

    def __init__(self, jwks_source: JwksSource, redis, *, cache_seconds: float = 300.0, leeway: int = 5) -> None:
        self._source = jwks_source
        self._redis = redis
        self._cache_seconds = cache_seconds
        self._leeway = leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < self._cache_seconds and self._keys:
                return
            jwks = await self._source()
            keys: dict[str, jwt.PyJWK] = {}
            for raw in jwks.get("keys", []):
                if raw.get("kid") and raw.get("alg") in ALLOWED_ALGORITHMS:
                    keys[raw["kid"]] = jwt.PyJWK(raw)
            self._keys, self._fetched_at = keys, time.monotonic()

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        await self._refresh()
        if kid not in self._keys:
            await self._refresh(force=True)  # a rotated key we have not seen yet
        if kid not in self._keys:
            raise Unauthenticated("access token signed with an unknown key", reason="UNAUTHENTICATED")
        return self._keys[kid]

    async def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed access token", reason="UNAUTHENTICATED") from None
        if header.get("alg") not in ALLOWED_ALGORITHMS or not header.get("kid"):
            raise Unauthenticated("access token algorithm not accepted", reason="UNAUTHENTICATED")
        key = await self._key_for(header["kid"])
        try:
            payload = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.algorithm_name],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "sid", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token expired", reason="UNAUTHENTICATED") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid access token", reason="UNAUTHENTICATED") from None
        claims = Claims(
            user_id=str(payload["sub"]),
            role=str(payload["role"]),
            session_id=str(payload["sid"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            amr=tuple(payload.get("amr", ())),
            mfa_at=payload.get("mfa_at"),
            token=token,
        )
        await self._check_revocation(claims)
        return claims

    async def _check_revocation(self, claims: Claims) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(revoked_session_key(claims.session_id))
            pipe.get(revoked_user_key(claims.user_id))
            session_revoked, user_revocation = await pipe.execute()
        if user_revocation:
            revocation = json.loads(user_revocation)
            if claims.issued_at <= int(revocation["before"]):
                if revocation.get("reason") in ("suspended", "terminated"):
                    raise PermissionDenied(f"account {revocation['reason']}", reason="PERMISSION_DENIED")
                raise Unauthenticated("session ended; sign in again", reason="UNAUTHENTICATED")
        if session_revoked:
            raise Unauthenticated("session ended; sign in again", reason="UNAUTHENTICATED")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
