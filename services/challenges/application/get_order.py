"""Query: one order and the account it bought. Its buyer, or staff."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.errors import InvalidArgument, NotFound
from libs.domain.ids import InvalidIdentifier, parse_uuid
from services.challenges.application.actor import Caller, require_role
from services.challenges.application.ports import ChallengesUnitOfWork
from services.challenges.domain.order import Order


@dataclass(frozen=True)
class GetOrder:
    caller: Caller
    order_id: str


class GetOrderHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetOrder) -> tuple[Order, UUID | None]:
        require_role(query.caller, "trader", "support", "admin", action="read orders")
        try:
            order_id = parse_uuid("order id", query.order_id)
        except InvalidIdentifier as exc:
            raise InvalidArgument(str(exc), field="order_id") from None
        async with self._uow() as uow:
            order = await uow.orders.get(order_id)
            account = await uow.accounts.get_by_order(order_id) if order else None
        if order is None or (not query.caller.is_staff and order.user_id != query.caller.actor_id):
            raise NotFound(f"order {query.order_id} does not exist", reason="NOT_FOUND")
        return order, account.account_id if account else None
