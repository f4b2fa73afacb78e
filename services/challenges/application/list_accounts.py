"""Query: trading accounts, newest first. A trader sees only their own; support and admin see any, with filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from libs.domain.errors import InvalidArgument
from services.challenges.application.actor import Caller, require_role
from services.challenges.application.ports import ChallengesUnitOfWork
from services.challenges.domain.account import AccountStatus, TradingAccount

DEFAULT_PAGE, MAX_PAGE = 50, 200


@dataclass(frozen=True)
class ListAccounts:
    caller: Caller
    page_size: int = 0
    after_key: str | None = None  # "<created_at iso>|<account id>" of the last item seen
    user_id: str | None = None
    statuses: tuple[str, ...] = ()
    program_id: str | None = None


@dataclass(frozen=True)
class AccountPage:
    accounts: list[TradingAccount]
    next_after_key: str | None


def _parse_after(key: str | None) -> tuple[datetime, UUID] | None:
    if not key:
        return None
    try:
        created, account_id = key.split("|", 1)
        return datetime.fromisoformat(created), UUID(account_id)
    except ValueError:
        raise InvalidArgument("page_token is not one this service issued", field="page_token") from None


class ListAccountsHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: ListAccounts) -> AccountPage:
        require_role(query.caller, "trader", "support", "admin", action="list trading accounts")
        if query.page_size < 0:
            raise InvalidArgument("page_size must not be negative", field="page_size")
        limit = min(query.page_size or DEFAULT_PAGE, MAX_PAGE)
        for status in query.statuses:
            if status not in AccountStatus.__members__.values():
                raise InvalidArgument(f"unknown status {status!r}", field="statuses")
        # A trader's own id replaces any user filter: the filter is for staff, never a way to read others' accounts.
        user_id = query.user_id or None if query.caller.is_staff else query.caller.actor_id
        async with self._uow() as uow:
            accounts = await uow.accounts.list(
                user_id=user_id,
                statuses=query.statuses,
                program_id=query.program_id or None,
                after=_parse_after(query.after_key),
                limit=limit + 1,
            )
        page, more = accounts[:limit], len(accounts) > limit
        last = page[-1] if page else None
        return AccountPage(page, f"{last.created_at.isoformat()}|{last.account_id}" if more and last else None)
