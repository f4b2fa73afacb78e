"""Query: a KYC case, the caller's own or (support, admin) any user's. A user without one is not_started."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from services.identity.application.common import Actor, load_user, parse_user_id, require_self_or_staff
from services.identity.application.kyc_ports import KycUnitOfWork
from services.identity.domain.kyc import KycCase


@dataclass(frozen=True)
class GetKyc:
    actor: Actor
    user_id: str = ""  # empty: the caller


class GetKycHandler:
    def __init__(self, uow: Callable[[], KycUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, query: GetKyc) -> KycCase:
        user_id = parse_user_id(query.user_id) if query.user_id else query.actor.user_id
        require_self_or_staff(query.actor, user_id)
        async with self._uow() as uow:
            user = await load_user(uow, user_id)
            return await uow.kyc.get(user_id) or KycCase.new(user_id, user.created_at)
