"""Query with a bootstrap: the key that signs now, created on first need (a fresh database has none).

Two replicas bootstrapping at once both try; the database's one-unscheduled-key index lets one win and the other
reads the winner's key. A bootstrap key activates at once: no token exists yet that a verifier could miss.
"""

from __future__ import annotations

from collections.abc import Callable

from libs.domain.clock import Clock
from services.identity.application.common import SYSTEM_ACTOR_ID, audit_entry
from services.identity.application.ports import IdentityUnitOfWork, SigningKeyFactory
from services.identity.domain.signing_keys import SigningKey


class EnsureSigningKeyHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, factory: SigningKeyFactory) -> None:
        self._uow = uow
        self._clock = clock
        self._factory = factory

    async def __call__(self, _attempt: int = 0) -> SigningKey:
        now = self._clock.now()
        async with self._uow() as uow:
            current = await uow.signing_keys.signing_at(now)
            if current is not None:
                return current
            key = self._factory.new_key(now, activates_at=now)
            if await uow.signing_keys.add(key):
                await uow.audit.append(
                    audit_entry(
                        at=now,
                        actor_id=SYSTEM_ACTOR_ID,
                        actor_role="system",
                        ip=None,
                        action="signing_key.created",
                        subject_type="signing_key",
                        subject_id=key.kid,
                    )
                )
                await uow.commit()
                return key
        if _attempt >= 3:
            raise RuntimeError("no signing key is active and none could be created")
        return await self(_attempt + 1)  # another replica created one at the same moment: read it
