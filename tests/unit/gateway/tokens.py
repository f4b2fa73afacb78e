"""Real access tokens for tests: an ES256 key pair of the test's own, signing JWTs with identity's claim shape.

The verifier under test is the real TokenVerifier; only its key source is the test's (`keys.jwks_source`).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from libs.platform.auth import AUDIENCE, ISSUER, revoked_user_key


@dataclass
class TestKeys:
    __test__ = False  # not a pytest class

    kid: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    jwks_fetches: int = 0

    @property
    def jwks(self) -> dict:
        public = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    async def jwks_source(self) -> dict:
        self.jwks_fetches += 1
        return self.jwks

    def mint(
        self,
        user_id: str | None = None,
        role: str = "trader",
        *,
        amr: tuple[str, ...] = ("pwd",),
        mfa_at: int | None = None,
        issued_at: int | None = None,
        lifetime: int = 900,
        session_id: str | None = None,
        **overrides,
    ) -> str:
        now = int(time.time()) if issued_at is None else issued_at
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id or str(uuid.uuid4()),
            "sid": session_id or str(uuid.uuid4()),
            "role": role,
            "amr": list(amr),
            "iat": now,
            "exp": now + lifetime,
            **({"mfa_at": mfa_at} if mfa_at is not None else {}),
            **overrides,
        }
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"kid": self.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tampered(token: str) -> str:
    """The same token with its payload changed (role raised to admin): the signature no longer matches."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def unsigned(token: str, kid: str) -> str:
    """The token's claims under an alg=none header and no signature, the classic forgery."""
    _header, payload, _signature = token.split(".")
    return ".".join([_b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode()), payload, ""])


async def suspend(redis, user_id: str, *, reason: str = "suspended") -> None:
    """Write the revocation key identity writes when an admin suspends a user."""
    await redis.set(revoked_user_key(user_id), json.dumps({"before": int(time.time()), "reason": reason}))
