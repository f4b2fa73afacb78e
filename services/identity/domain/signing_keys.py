"""Token-signing keys and their rotation.

A key is published (in the JWK Set) before it signs anything: rotation creates the new key with `activates_at` a
lead time ahead and sets the old key's `retired_at` to that same instant, so for the lead time verifiers can fetch
the new key while the old one still signs. After it retires, a key stays published for the access token lifetime
plus a margin, until no token it signed can still be valid. An emergency rotation (a leaked key) activates the new
key at once and withdraws the old one from the JWK Set at once: every token it signed dies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.identity.domain.sessions import ACCESS_TOKEN_LIFETIME

ALGORITHM = "ES256"
RETIRED_KEY_MARGIN = timedelta(minutes=5)
# Longer than any verifier's refusal to re-fetch the JWK Set (the gateway's GrpcJwksSource: 10 s), so a token from
# the new key never meets a verifier that cannot yet know it.
PUBLISH_LEAD = timedelta(seconds=60)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key_ciphertext: str
    public_jwk: dict
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None

    def signs_at(self, now: datetime) -> bool:
        return self.activates_at <= now and (self.retired_at is None or now < self.retired_at)

    def published_at(self, now: datetime) -> bool:
        return self.retired_at is None or now <= self.retired_at + ACCESS_TOKEN_LIFETIME + RETIRED_KEY_MARGIN


def retired_keys_visible_since(now: datetime) -> datetime:
    """Keys retired after this instant are still published."""
    return now - ACCESS_TOKEN_LIFETIME - RETIRED_KEY_MARGIN


@dataclass(frozen=True)
class RotationPlan:
    new_key_activates_at: datetime
    old_key_retires_at: datetime


def plan_rotation(now: datetime, *, emergency: bool) -> RotationPlan:
    if emergency:
        # Retired far enough in the past that it leaves the JWK Set now.
        return RotationPlan(now, now - ACCESS_TOKEN_LIFETIME - RETIRED_KEY_MARGIN - timedelta(seconds=1))
    return RotationPlan(now + PUBLISH_LEAD, now + PUBLISH_LEAD)
