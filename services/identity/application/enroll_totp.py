"""Command: start TOTP enrolment: a new secret (stored encrypted, not yet active) and its provisioning URI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition
from services.identity.application.common import Actor, audit_entry, load_user, require_signed_in
from services.identity.application.complete_mfa_login import totp_context
from services.identity.application.ports import IdentityUnitOfWork, SecretCipher
from services.identity.domain.totp import new_secret, provisioning_uri


@dataclass(frozen=True)
class EnrollTotp:
    actor: Actor


@dataclass(frozen=True)
class TotpProvisioning:
    provisioning_uri: str
    secret: str


class EnrollTotpHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, cipher: SecretCipher) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher

    async def __call__(self, cmd: EnrollTotp) -> TotpProvisioning:
        user_id = require_signed_in(cmd.actor)
        now = self._clock.now()
        secret = new_secret()
        async with self._uow() as uow:
            user = await load_user(uow, user_id)
            if not user.may_sign_in:
                raise FailedPrecondition(f"account {user.status.value}", reason="ACCOUNT_NOT_ACTIVE")
            existing = await uow.mfa.get_totp(user_id, for_update=True)
            if existing is not None and existing.confirmed_at is not None:
                raise FailedPrecondition("TOTP is active already", reason="TOTP_ALREADY_ACTIVE")
            await uow.mfa.put_pending_totp(
                user_id, self._cipher.encrypt_text(secret, context=totp_context(user_id)), now
            )
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="mfa.totp_enrolment_started",
                    subject_id=str(user_id),
                )
            )
            await uow.commit()
        return TotpProvisioning(provisioning_uri=provisioning_uri(secret, user.email), secret=secret)
