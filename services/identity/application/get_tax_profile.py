"""Query: the caller's tax profile, TIN masked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.errors import NotFound
from services.identity.application.common import Actor, require_signed_in
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.tax_profile import TaxProfile


@dataclass(frozen=True)
class GetTaxProfile:
    actor: Actor


class GetTaxProfileHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetTaxProfile) -> TaxProfile:
        user_id = require_signed_in(query.actor)
        async with self._uow() as uow:
            profile = await uow.tax_profiles.get(user_id)
        if profile is None:
            raise NotFound("no tax profile yet", reason="TAX_PROFILE_NOT_FOUND")
        return profile
