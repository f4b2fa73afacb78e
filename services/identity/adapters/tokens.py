"""Access tokens (ES256 JWTs with a `kid`, the contract of libs/platform/auth.py), signing-key generation, and the
HMAC-signed tokens of emailed links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from libs.domain.errors import InvalidArgument
from libs.platform.auth import AUDIENCE, ISSUER
from services.identity.application.ports import IssuedAccessToken, SecretCipher
from services.identity.domain.sessions import ACCESS_TOKEN_LIFETIME
from services.identity.domain.signing_keys import ALGORITHM, SigningKey
from services.identity.domain.user import Role


def _key_context(kid: str) -> str:
    return f"signing-key:{kid}"


class Es256SigningKeyFactory:
    """New P-256 key pairs; the private key leaves this object only envelope-encrypted."""

    def __init__(self, cipher: SecretCipher) -> None:
        self._cipher = cipher

    def new_key(self, at: datetime, activates_at: datetime) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = f"{at:%Y%m%d}-{secrets.token_hex(6)}"
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
        public_jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
        return SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            private_key_ciphertext=self._cipher.encrypt_text(pem, context=_key_context(kid)),
            public_jwk=public_jwk,
            created_at=at,
            activates_at=activates_at,
        )


class JwtAccessTokenIssuer:
    """Signs with the current key, cached for `cache_seconds` so a rotation elsewhere is picked up soon; tokens
    signed by the previous key stay valid because the retired key stays in the JWK Set."""

    def __init__(
        self,
        current_key: Callable[[], Awaitable[SigningKey]],
        cipher: SecretCipher,
        *,
        cache_seconds: float = 60.0,
        lifetime_seconds: int = int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        revoked_before: Callable[[UUID], Awaitable[int | None]] | None = None,
    ) -> None:
        self._current_key = current_key
        self._revoked_before = revoked_before
        self._cipher = cipher
        self._cache_seconds = cache_seconds
        self._lifetime = lifetime_seconds
        self._cached: tuple[SigningKey, object, float] | None = None

    def invalidate_cache(self) -> None:
        self._cached = None

    async def _signing_key(self, now: datetime) -> tuple[str, object]:
        cached = self._cached
        if (
            cached is None
            or time.monotonic() - cached[2] > self._cache_seconds
            or not cached[0].signs_at(now)  # a scheduled rotation took effect: switch at once, not a minute later
        ):
            key = await self._current_key()
            pem = self._cipher.decrypt_text(key.private_key_ciphertext, context=_key_context(key.kid))
            private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
            cached = self._cached = (key, private, time.monotonic())
        return cached[0].kid, cached[1]

    async def issue(
        self,
        *,
        user_id: UUID,
        role: Role,
        session_id: UUID,
        amr: tuple[str, ...],
        mfa_at: datetime | None,
        now: datetime,
    ) -> IssuedAccessToken:
        kid, private = await self._signing_key(now)
        issued_at = int(now.timestamp())
        if self._revoked_before is not None:
            # Revocation keys refuse tokens issued "at or before" a whole second; a token issued in that same second
            # but after the revocation (sign-in right after logout-everywhere or a role change) is dated one second
            # later so it is not refused with the old ones. Verifiers allow 5 seconds of clock leeway.
            before = await self._revoked_before(user_id)
            if before is not None and issued_at <= before:
                issued_at = before + 1
        expires_at = issued_at + self._lifetime
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "role": role.value,
            "sid": str(session_id),
            "iat": issued_at,
            "exp": expires_at,
            "jti": secrets.token_urlsafe(12),
            "amr": list(amr),
        }
        if mfa_at is not None:
            claims["mfa_at"] = int(mfa_at.timestamp())
        token = jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})
        return IssuedAccessToken(token=token, expires_at=datetime.fromtimestamp(expires_at, UTC))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HmacLinkTokens:
    """`<payload>.<HMAC-SHA256>`: stateless, so a link needs no row until it is used (the single-use ledger)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the link-signing key must have at least 256 bits")
        self._key = key

    def sign(self, *, purpose: str, subject: str, token_id: str, expires_at: datetime) -> str:
        payload = json.dumps(
            {"p": purpose, "s": subject, "j": token_id, "e": int(expires_at.timestamp())}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def open(self, token: str, *, purpose: str, now: datetime) -> tuple[str, str]:
        try:
            encoded, signature = (token or "").strip().split(".")
            payload = _unb64(encoded)
            mac_ok = hmac.compare_digest(_unb64(signature), self._mac(payload))
            data = json.loads(payload) if mac_ok else None
        except (ValueError, TypeError):
            data = None
        if not data or data.get("p") != purpose:
            raise InvalidArgument("this link is not valid", field="token", reason="TOKEN_INVALID")
        if int(data["e"]) <= int(now.timestamp()):
            raise InvalidArgument("this link has expired; ask for a new one", field="token", reason="TOKEN_EXPIRED")
        return str(data["s"]), str(data["j"])

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()
