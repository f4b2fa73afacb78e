"""Command: retire the current token-signing key and make a fresh one current (admin, or the operator's CLI).

Tokens signed by the retired key stay valid until they expire: the key stays in the JWK Set for the access token
lifetime plus a margin. Verifiers that meet the new `kid` refresh their cached JWK Set once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import ConcurrencyConflict, PermissionDenied
from services.identity.application.common import SYSTEM_ACTOR_ID, Actor, audit_entry
from services.identity.application.ports import AccessTokenIssuer, IdentityUnitOfWork, SigningKeyFactory


@dataclass(frozen=True)
class RotateSigningKey:
    actor: Actor


class RotateSigningKeyHandler:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        clock: Clock,
        factory: SigningKeyFactory,
        issuer: AccessTokenIssuer,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._factory = factory
        self._issuer = issuer

    async def __call__(self, cmd: RotateSigningKey) -> str:
        if cmd.actor.role not in ("admin", "system") or (
            cmd.actor.role == "system" and cmd.actor.actor_id != SYSTEM_ACTOR_ID
        ):
            raise PermissionDenied("only an admin or the operator may rotate signing keys", reason="PERMISSION_DENIED")
        now = self._clock.now()
        new_key = self._factory.new_key(now)
        async with self._uow() as uow:
            current = await uow.signing_keys.current()
            if current is not None:
                await uow.signing_keys.retire(current.kid, now)
            if not await uow.signing_keys.add(new_key):
                raise ConcurrencyConflict("another rotation happened at the same time; retry")
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="signing_key.rotated",
                    subject_type="signing_key",
                    subject_id=new_key.kid,
                    before={"kid": current.kid} if current else None,
                    after={"kid": new_key.kid},
                )
            )
            await uow.commit()
        self._issuer.invalidate_cache()
        return new_key.kid
