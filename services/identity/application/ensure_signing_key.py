"""Query with a bootstrap: the current signing key, created on first need (a fresh database has none).

Two replicas bootstrapping at once both try; the database's one-current-key index lets one win and the other
reads the winner's key.
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

    async def __call__(self) -> SigningKey:
        async with self._uow() as uow:
            current = await uow.signing_keys.current()
            if current is not None:
                return current
            now = self._clock.now()
            key = self._factory.new_key(now)
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
        async with self._uow() as uow:
            winner = await uow.signing_keys.current()
        if winner is None:  # the racing creator rolled back after all: try once more from the start
            return await self()
        return winner
