"""Query: page through users (support and admin), filtered by status, role, part of the email or an open review
flag; each user on the page says whether they are flagged for review."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.errors import InvalidArgument
from services.identity.application.common import Actor, require_staff
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.user import Role, User, UserStatus

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class ListUsers:
    actor: Actor
    status: UserStatus | None = None
    role: Role | None = None
    email_contains: str | None = None
    flagged_for_review: bool = False
    page_size: int = 0
    after_key: str | None = None


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_after_key: str | None
    flagged: frozenset[UUID] = frozenset()  # the users on this page with an open review flag


def sort_key(user: User) -> str:
    return f"{user.created_at.isoformat()}|{user.user_id}"


class ListUsersHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: ListUsers) -> UserPage:
        require_staff(query.actor)
        if query.page_size < 0 or query.page_size > MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}", field="page_size")
        limit = query.page_size or DEFAULT_PAGE_SIZE
        async with self._uow() as uow:
            users = await uow.users.list(
                status=query.status,
                role=query.role,
                email_contains=(query.email_contains or "").strip().lower() or None,
                after_key=query.after_key,
                limit=limit + 1,
                flagged_for_review=query.flagged_for_review,
            )
            page = users[:limit]
            flagged = await uow.review_flags.users_with_open_flags([u.user_id for u in page])
        return UserPage(
            users=page,
            next_after_key=sort_key(page[-1]) if len(users) > limit else None,
            flagged=frozenset(flagged),
        )
