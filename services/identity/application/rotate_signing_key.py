"""Command: rotate the token-signing key (admin, or the operator's CLI; runbook identity-key-rotation).

Routine: the new key is published now and signs from PUBLISH_LEAD on, when the old one retires; tokens the old key
signed stay valid until they expire. Emergency (the old key leaked): the new key signs at once and the old key
leaves the JWK Set at once, so every token it signed is refused; everyone signs in again (refresh still works: it
needs the refresh token, not the access token).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from libs.domain.clock import Clock
from libs.domain.errors import ConcurrencyConflict, FailedPrecondition, PermissionDenied
from services.identity.application.common import SYSTEM_ACTOR_ID, Actor, audit_entry
from services.identity.application.ports import AccessTokenIssuer, IdentityUnitOfWork, SigningKeyFactory
from services.identity.domain.signing_keys import plan_rotation


@dataclass(frozen=True)
class RotateSigningKey:
    actor: Actor
    emergency: bool = False


@dataclass(frozen=True)
class Rotation:
    kid: str
    activates_at: datetime
    previous_kid: str | None


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

    async def __call__(self, cmd: RotateSigningKey) -> Rotation:
        allowed = (cmd.actor.role == "admin" and cmd.actor.has_mfa) or (
            cmd.actor.role == "system" and cmd.actor.actor_id == SYSTEM_ACTOR_ID
        )
        if not allowed:
            raise PermissionDenied("only an admin or the operator may rotate signing keys", reason="PERMISSION_DENIED")
        now = self._clock.now()
        plan = plan_rotation(now, emergency=cmd.emergency)
        new_key = self._factory.new_key(now, activates_at=plan.new_key_activates_at)
        async with self._uow() as uow:
            newest = await uow.signing_keys.newest()
            if newest is not None:
                if newest.activates_at > now and not cmd.emergency:
                    raise FailedPrecondition(
                        f"key {newest.kid} is waiting to activate at {newest.activates_at.isoformat()}; "
                        "rotate again after that (or use an emergency rotation)",
                        reason="ROTATION_IN_PROGRESS",
                    )
                await uow.signing_keys.retire(newest.kid, plan.old_key_retires_at)
                if cmd.emergency:
                    # Also withdraw the key that was signing before a routine rotation still in its lead time.
                    previous = await uow.signing_keys.signing_at(now)
                    if previous is not None and previous.kid != newest.kid:
                        await uow.signing_keys.retire(previous.kid, plan.old_key_retires_at)
            if not await uow.signing_keys.add(new_key):
                raise ConcurrencyConflict("another rotation happened at the same time; retry")
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="signing_key.emergency_rotated" if cmd.emergency else "signing_key.rotated",
                    subject_type="signing_key",
                    subject_id=new_key.kid,
                    before={"kid": newest.kid} if newest else None,
                    after={"kid": new_key.kid, "activates_at": new_key.activates_at.isoformat()},
                )
            )
            await uow.commit()
        self._issuer.invalidate_cache()
        return Rotation(kid=new_key.kid, activates_at=new_key.activates_at, previous_kid=newest.kid if newest else None)
