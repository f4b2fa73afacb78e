"""Token-signing keys: one current key signs; retired keys keep verifying until every token they signed expired.

Rotation retires the current key and makes a new one current. A retired key stays in the JWK Set for the access
token lifetime plus a margin (verifiers' clock leeway), then drops out: no token it signed can still be valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.identity.domain.sessions import ACCESS_TOKEN_LIFETIME

ALGORITHM = "ES256"
RETIRED_KEY_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key_ciphertext: str
    public_jwk: dict
    created_at: datetime
    retired_at: datetime | None = None

    def verifies_tokens_at(self, now: datetime) -> bool:
        return self.retired_at is None or now <= self.retired_at + ACCESS_TOKEN_LIFETIME + RETIRED_KEY_MARGIN


def retired_keys_visible_since(now: datetime) -> datetime:
    """Keys retired after this instant are still published."""
    return now - ACCESS_TOKEN_LIFETIME - RETIRED_KEY_MARGIN
