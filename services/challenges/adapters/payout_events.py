"""Inbox handler for PayoutCompleted (payouts service -> challenges; ADR 0054), applied in the inbox's transaction.

Payload (proto/dynasty/events/v1/account_events.proto documents it): {"account_id": "<uuid>", "payout_id": "<id>",
"amount": "<decimal string>", "currency": "USD", "paid_at": "<ISO 8601 with offset>"}. The AccountScaled events the
account records go to our outbox in the same transaction, as the unit of work would do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import InvalidArgument
from libs.domain.money import Money, MoneyError
from libs.platform import outbox
from libs.platform.audit import SqlAlchemyAuditLog
from libs.platform.inbox import ReceivedEvent
from services.challenges.adapters.sql.order_repository import SqlAlchemyAccountRepository, SqlAlchemyPlatformResets
from services.challenges.adapters.sql.payout_repository import SqlAlchemyAccountPayouts
from services.challenges.adapters.sql.tables import SCHEMA
from services.challenges.application.record_payout import PayoutCompleted, record_payout


def parse_payout_completed(payload: Mapping) -> PayoutCompleted:
    """The payload, every field checked and named when wrong (the inbox records the refusal)."""
    try:
        account_id = UUID(str(payload["account_id"]))
    except (KeyError, ValueError):
        raise InvalidArgument("PayoutCompleted needs account_id (UUID)", field="payload.account_id") from None
    payout_id = payload.get("payout_id")
    if not isinstance(payout_id, str) or not 1 <= len(payout_id) <= 128:
        raise InvalidArgument("PayoutCompleted needs payout_id (1 to 128 characters)", field="payload.payout_id")
    try:
        amount = Money.of(str(payload["amount"]), str(payload["currency"]))
    except (KeyError, ValueError, MoneyError):
        raise InvalidArgument(
            "PayoutCompleted needs amount (decimal string) and currency", field="payload.amount"
        ) from None
    if amount.amount <= 0:
        raise InvalidArgument("PayoutCompleted amount must be greater than 0", field="payload.amount")
    try:
        paid_at = datetime.fromisoformat(str(payload["paid_at"]))
    except (KeyError, ValueError):
        raise InvalidArgument("PayoutCompleted needs paid_at (ISO 8601)", field="payload.paid_at") from None
    if paid_at.tzinfo is None:
        raise InvalidArgument("paid_at must carry its UTC offset", field="payload.paid_at")
    return PayoutCompleted(account_id=account_id, payout_id=payout_id, amount=amount, paid_at=paid_at)


def payout_event_handlers(routes: Mapping[str, Iterable[str]]) -> dict[str, Callable]:
    async def handle(session: AsyncSession, event: ReceivedEvent) -> None:
        payout = parse_payout_completed(event.payload)
        seen = outbox.SeenAggregates()
        accounts = SqlAlchemyAccountRepository(session, seen.track)
        await record_payout(
            accounts,
            SqlAlchemyAccountPayouts(session),
            SqlAlchemyAuditLog(session, SCHEMA),
            SqlAlchemyPlatformResets(session),
            payout,
        )
        await seen.enqueue_events(session, schema=SCHEMA, source=SCHEMA, routes=routes)

    return {"PayoutCompleted": handle}
