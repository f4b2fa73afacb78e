"""Query: one user, for support and admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.identity.application.common import Actor, load_user, parse_user_id, require_staff
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.user import User


@dataclass(frozen=True)
class GetUser:
    actor: Actor
    user_id: str


class GetUserHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetUser) -> User:
        require_staff(query.actor)
        user_id = parse_user_id(query.user_id)
        async with self._uow() as uow:
            return await load_user(uow, user_id)
