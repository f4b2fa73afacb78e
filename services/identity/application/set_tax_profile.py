"""Command: record the caller's W-9 or W-8BEN details. The TIN is envelope-encrypted before it reaches the
repository (a data key per record, wrapped by the master key) and only its last four characters stay readable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from services.identity.application.common import Actor, audit_entry, load_user, require_signed_in
from services.identity.application.ports import IdentityUnitOfWork, SecretCipher
from services.identity.domain.tax_profile import TaxForm, TaxProfile, validate_tax_details


@dataclass(frozen=True)
class SetTaxProfile:
    actor: Actor
    form: TaxForm | None
    legal_name: str
    tin: str
    country: str
    address: str


def tin_context(user_id) -> str:
    return f"tax:{user_id}"


class SetTaxProfileHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, cipher: SecretCipher) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher

    async def __call__(self, cmd: SetTaxProfile) -> TaxProfile:
        user_id = require_signed_in(cmd.actor)
        details = validate_tax_details(cmd.form, cmd.legal_name, cmd.tin, cmd.country, cmd.address)
        now = self._clock.now()
        profile = TaxProfile(
            user_id=user_id,
            form=details.form,
            legal_name=details.legal_name,
            tin_last4=details.tin_last4,
            country=details.country,
            address=details.address,
            updated_at=now,
        )
        async with self._uow() as uow:
            await load_user(uow, user_id)
            before = await uow.tax_profiles.get(user_id)
            await uow.tax_profiles.put(profile, self._cipher.encrypt_text(details.tin, context=tin_context(user_id)))
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="tax_profile.set",
                    subject_id=str(user_id),
                    before=_masked(before) if before else None,
                    after=_masked(profile),
                )
            )
            await uow.commit()
        return profile


def _masked(profile: TaxProfile) -> dict:
    return {"form": profile.form.value, "country": profile.country, "tin": profile.tin_masked}
