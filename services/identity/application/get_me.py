"""Query: the caller's own profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.identity.application.common import Actor, load_user, require_signed_in
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.user import User


@dataclass(frozen=True)
class GetMe:
    actor: Actor


class GetMeHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetMe) -> User:
        user_id = require_signed_in(query.actor)
        async with self._uow() as uow:
            return await load_user(uow, user_id)
