"""Query: a login history, newest first: the caller's own, or any user's for support and admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.errors import InvalidArgument
from services.identity.application.common import Actor, parse_user_id, require_self_or_staff, require_signed_in
from services.identity.application.ports import IdentityUnitOfWork
from services.identity.domain.login_events import LoginEvent

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class ListLoginEvents:
    actor: Actor
    user_id: str = ""
    page_size: int = 0
    before_id: int | None = None


@dataclass(frozen=True)
class LoginEventPage:
    events: list[LoginEvent]
    next_before_id: int | None


class ListLoginEventsHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: ListLoginEvents) -> LoginEventPage:
        user_id = parse_user_id(query.user_id) if query.user_id else require_signed_in(query.actor)
        require_self_or_staff(query.actor, user_id)
        if query.page_size < 0 or query.page_size > MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}", field="page_size")
        limit = query.page_size or DEFAULT_PAGE_SIZE
        async with self._uow() as uow:
            events = await uow.login_history.list(user_id, before_id=query.before_id, limit=limit + 1)
        page = events[:limit]
        return LoginEventPage(events=page, next_before_id=page[-1].event_id if len(events) > limit else None)
