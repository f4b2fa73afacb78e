"""Command: activate TOTP with a first valid code; returns the one-time recovery codes (only hashes are kept)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from services.identity.application.common import Actor, audit_entry, digest, load_user, require_signed_in
from services.identity.application.complete_mfa_login import totp_context
from services.identity.application.ports import IdentityUnitOfWork, SecretCipher
from services.identity.domain.totp import matching_step, new_recovery_codes, normalise_recovery_code


@dataclass(frozen=True)
class ConfirmTotp:
    actor: Actor
    totp_code: str


class ConfirmTotpHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, cipher: SecretCipher) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher

    async def __call__(self, cmd: ConfirmTotp) -> list[str]:
        user_id = require_signed_in(cmd.actor)
        now = self._clock.now()
        async with self._uow() as uow:
            user = await load_user(uow, user_id, for_update=True)
            enrolment = await uow.mfa.get_totp(user_id, for_update=True)
            if enrolment is None:
                raise FailedPrecondition("start TOTP enrolment first", reason="TOTP_NOT_ENROLLED")
            if enrolment.confirmed_at is not None:
                raise FailedPrecondition("TOTP is active already", reason="TOTP_ALREADY_ACTIVE")
            secret = self._cipher.decrypt_text(enrolment.secret_ciphertext, context=totp_context(user_id))
            step = matching_step(secret, cmd.totp_code, now, None)
            if step is None:
                raise InvalidArgument("the code is wrong; check the authenticator's clock", field="totp_code")
            codes = new_recovery_codes()
            await uow.mfa.confirm_totp(user_id, now, step)
            await uow.mfa.replace_recovery_codes(user_id, [digest(normalise_recovery_code(c)) for c in codes], now)
            user.set_mfa_enabled(True, now)
            await uow.users.save(user)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="mfa.totp_enabled",
                    subject_id=str(user_id),
                    before={"mfa_enabled": False},
                    after={"mfa_enabled": True, "recovery_codes": len(codes)},
                )
            )
            await uow.commit()
        return codes
