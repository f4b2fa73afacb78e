"""Query: one trading account. Its owner, or staff; anyone else is told it does not exist (no enumeration)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.errors import InvalidArgument, NotFound
from libs.domain.ids import InvalidIdentifier, parse_uuid
from services.challenges.application.actor import Caller, require_role
from services.challenges.application.ports import ChallengesUnitOfWork
from services.challenges.domain.account import TradingAccount


class AccountNotFound(NotFound):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} does not exist", reason="NOT_FOUND", account_id=account_id)


@dataclass(frozen=True)
class GetAccount:
    caller: Caller
    account_id: str


def parse_account_id(value: str):
    try:
        return parse_uuid("account id", value)
    except InvalidIdentifier as exc:
        raise InvalidArgument(str(exc), field="account_id") from None


class GetAccountHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetAccount) -> TradingAccount:
        require_role(query.caller, "trader", "support", "admin", action="read trading accounts")
        account_id = parse_account_id(query.account_id)
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id)
        if account is None or (not query.caller.is_staff and account.user_id != query.caller.actor_id):
            raise AccountNotFound(query.account_id)
        return account
