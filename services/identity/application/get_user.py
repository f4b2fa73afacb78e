"""Query: one user, for support and admin, with their review flags (open and cleared, newest first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.identity.application.common import Actor, load_user, parse_user_id, require_staff
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.review_flags import ReviewFlag
from services.identity.domain.user import User


@dataclass(frozen=True)
class GetUser:
    actor: Actor
    user_id: str


@dataclass(frozen=True)
class UserDetail:
    user: User
    review_flags: list[ReviewFlag]

    @property
    def flagged_for_review(self) -> bool:
        return any(flag.is_open for flag in self.review_flags)


class GetUserHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetUser) -> UserDetail:
        require_staff(query.actor)
        user_id = parse_user_id(query.user_id)
        async with self._uow() as uow:
            user = await load_user(uow, user_id)
            return UserDetail(user=user, review_flags=await uow.review_flags.for_user(user_id))
