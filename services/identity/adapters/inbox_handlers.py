"""Inbox handlers: events other services deliver to identity, applied in the inbox's transaction.

The platform's inbox (libs/platform/inbox.py) records the event id and hands us its session; the repositories and
the audit log are built on that session, so the inbox row, the review flag and its audit record commit together,
exactly as challenges and rules apply the events they receive. Payloads are read tolerantly: only the fields we
need, and a payload missing them is INVALID_ARGUMENT (rolled back, logged by the relay and retried later, never
half-applied).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import InvalidArgument
from libs.domain.ids import new_uuid
from libs.platform.audit import SqlAlchemyAuditLog
from libs.platform.inbox import ReceivedEvent
from services.identity.adapters.sql.repositories import SqlAlchemyReviewFlagRepository, SqlAlchemyUserRepository
from services.identity.adapters.sql.tables import SCHEMA
from services.identity.application.apply_chargeback_events import ChargebackReport, apply_chargeback_report

# The facts copied from the event into the flag's evidence, as strings (amounts stay exact decimal strings).
EVIDENCE_FIELDS = ("order_id", "account_id", "payment_intent_id")


def _report(event: ReceivedEvent) -> ChargebackReport:
    payload = event.payload
    try:
        user_id = UUID(str(payload["user_id"]))
        dispute_id = str(payload["dispute_id"]).strip()
    except (KeyError, ValueError):
        raise InvalidArgument(f"{event.event_type} needs user_id (UUID) and dispute_id", field="payload") from None
    if not dispute_id:
        raise InvalidArgument(f"{event.event_type} needs a dispute_id", field="payload.dispute_id")
    evidence = {name: str(payload[name]) for name in EVIDENCE_FIELDS if payload.get(name) is not None}
    amount = payload.get("amount")
    if isinstance(amount, dict) and amount.get("amount") is not None:
        evidence["amount"] = str(amount["amount"])
        evidence["currency"] = str(amount.get("currency") or "")
    if payload.get("reason"):
        evidence["dispute_reason"] = str(payload["reason"])  # the bank's reason code, e.g. "fraudulent"
    evidence["dispute_id"] = dispute_id
    evidence["event_id"] = str(event.event_id)
    closed_status = None
    if event.event_type == "ChargebackClosed":
        closed_status = str(payload.get("status") or "").strip()
        if not closed_status:
            raise InvalidArgument("ChargebackClosed needs the dispute's status", field="payload.status")
    at: datetime = event.occurred_at
    return ChargebackReport(
        user_id=user_id, dispute_id=dispute_id, at=at, evidence=evidence, closed_status=closed_status
    )


def challenges_event_handlers(new_id: Callable[[], UUID] = new_uuid) -> dict[str, Callable]:
    async def chargeback(session: AsyncSession, event: ReceivedEvent) -> None:
        users = SqlAlchemyUserRepository(session, lambda _user: None)  # nothing to publish: identity routes none
        await apply_chargeback_report(
            users,
            SqlAlchemyReviewFlagRepository(session),
            SqlAlchemyAuditLog(session, SCHEMA),
            _report(event),
            new_id,
        )

    return {"ChargebackOpened": chargeback, "ChargebackClosed": chargeback}
