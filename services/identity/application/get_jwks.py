"""Query: the public keys that verify access tokens (current and retired-but-unexpired), as a JWK Set."""

from __future__ import annotations

from collections.abc import Callable

from libs.domain.clock import Clock
from services.identity.application.ensure_signing_key import EnsureSigningKeyHandler
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.signing_keys import retired_keys_visible_since

JWKS_MAX_AGE_SECONDS = 300


class GetJwksHandler:
    def __init__(
        self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, ensure_signing_key: EnsureSigningKeyHandler
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ensure = ensure_signing_key

    async def __call__(self) -> dict:
        await self._ensure()
        async with self._uow() as uow:
            keys = await uow.signing_keys.published(retired_keys_visible_since(self._clock.now()))
        return {"keys": [dict(key.public_jwk) for key in keys]}
