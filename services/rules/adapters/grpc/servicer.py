"""dynasty.rules.v1.RulesService: translate, call the use case, translate back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from google.protobuf.timestamp_pb2 import Timestamp

from dynasty.rules.v1 import rules_service_pb2 as pb
from dynasty.rules.v1 import rules_service_pb2_grpc as pb_grpc
from libs.domain.errors import InvalidArgument, PermissionDenied
from libs.platform.db import dumps
from libs.platform.grpc_errors import current_caller
from services.rules.adapters.sql.monitoring_store import jsonable
from services.rules.adapters.yourpropfirm.envelopes import MalformedEvent, parse_envelope, payload_hash
from services.rules.adapters.yourpropfirm.signature import BadSignature, verify
from services.rules.application.import_news_calendar import ImportNewsCalendar, ImportNewsCalendarHandler
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from services.rules.application.queries import (
    GetRiskStateHandler,
    ListQuarantinedHandler,
    ListViolationsHandler,
    Viewer,
    view_of,
)
from services.rules.application.replay_account import ReplayAccountHandler
from services.rules.application.review_violation import (
    OVERTURN,
    UPHOLD,
    ReviewViolation,
    ReviewViolationHandler,
)

log = logging.getLogger(__name__)
MAX_BATCH = 1000
OUTCOMES = {
    "applied": pb.INGEST_OUTCOME_APPLIED,
    "duplicate": pb.INGEST_OUTCOME_DUPLICATE,
    "quarantined": pb.INGEST_OUTCOME_QUARANTINED,
    "recorded": pb.INGEST_OUTCOME_RECORDED,
}


def _timestamp(value) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _text(value) -> str:
    return "" if value is None else str(value)


def _state(view) -> pb.RiskState:
    return pb.RiskState(
        account_id=str(view.account.account_id),
        user_id=view.account.user_id,
        status=view.status,
        balance=str(view.balance),
        equity=str(view.equity),
        floor=str(view.floor),
        distance_to_floor=str(view.equity - view.floor),
        day_pnl=str(view.day_pnl),
        daily_loss_limit=_text(view.daily_loss_limit),
        trading_days=view.trading_days,
        consistency_ratio=_text(view.consistency_ratio),
        profit_target=_text(view.profit_target),
        progress_to_target=_text(view.progress_to_target),
        as_of=_timestamp(view.as_of),
        failed_rule=_text(view.failed_rule),
        phase=view.account.phase,
    )


def _violation(row: dict) -> pb.Violation:
    return pb.Violation(
        violation_id=str(row["violation_id"]),
        account_id=str(row["account_id"]),
        rule=row["rule"],
        severity=row["severity"],
        occurred_at=_timestamp(row["occurred_at"]),
        evidence_json=dumps(row["evidence"]),
        trigger_event_id=_text(row["trigger_event_id"]),
        review_status=row["review_status"],
    )


class RulesServicer(pb_grpc.RulesServiceServicer):
    def __init__(
        self,
        ingest: IngestTradeEventsHandler,
        get_risk_state: GetRiskStateHandler,
        list_violations: ListViolationsHandler,
        list_quarantined: ListQuarantinedHandler,
        replay_account: ReplayAccountHandler,
        review_violation: ReviewViolationHandler,
        import_news: ImportNewsCalendarHandler,
        webhook_secret: Callable[[], str | None],
        submit_events: Callable | None = None,
    ) -> None:
        self._ingest = ingest
        # The group commit's submit when batching is on; otherwise each call is processed on its own.
        self._submit_events = submit_events or ingest.handle
        self._get_risk_state = get_risk_state
        self._list_violations = list_violations
        self._list_quarantined = list_quarantined
        self._replay_account = replay_account
        self._review_violation = review_violation
        self._import_news = import_news
        self._webhook_secret = webhook_secret

    async def IngestTradeEvents(self, request, context):
        if len(request.events) > MAX_BATCH:
            raise InvalidArgument(f"at most {MAX_BATCH} events per batch", field="events")
        secret = self._webhook_secret()
        if not secret:
            raise PermissionDenied("no YourPropFirm webhook secret is configured", reason="NOT_CONFIGURED")
        parsed = []
        for index, event in enumerate(request.events):
            body = bytes(event.body)
            try:
                verify(secret, event.signature, body)
            except BadSignature as exc:
                log.warning("refused event %d: %s (sha256 %s)", index, exc, payload_hash(body))
                raise PermissionDenied(f"event {index}: {exc}", reason="BAD_SIGNATURE") from None
            try:
                parsed.append(parse_envelope(body, index))
            except MalformedEvent as exc:
                log.warning("refused malformed event: %s (sha256 %s)", exc.message, exc.payload_sha256)
                raise
        results = await self._submit_events(parsed)
        return pb.IngestTradeEventsResponse(
            results=[
                pb.IngestResult(provider_event_id=r.provider_event_id, outcome=OUTCOMES[r.outcome]) for r in results
            ]
        )

    async def GetRiskState(self, request, context):
        caller = current_caller()
        view = await self._get_risk_state(Viewer(caller.actor_id, caller.role), request.account_id)
        return pb.GetRiskStateResponse(state=_state(view))

    async def ReplayAccount(self, request, context):
        caller = current_caller()
        outcome = await self._replay_account(
            Viewer(caller.actor_id, caller.role), request.account_id, request.rule_set_json
        )
        return pb.ReplayAccountResponse(
            state=_state(view_of(outcome.account, outcome.risk, outcome.risk.status.value)),
            decisions=[
                pb.ReplayedDecision(
                    kind=type(taken.decision).__name__,
                    occurred_at=_timestamp(taken.decision.occurred_at),
                    detail_json=dumps(
                        {k: v for k, v in jsonable(taken.decision).items() if k not in ("event_id", "occurred_at")}
                    ),
                    provider_event_id=taken.provider_event_id,
                )
                for taken in outcome.decisions
            ],
            events_replayed=outcome.events_replayed,
        )

    async def ListViolations(self, request, context):
        caller = current_caller()
        rows = await self._list_violations(Viewer(caller.actor_id, caller.role), request.account_id, request.page_size)
        return pb.ListViolationsResponse(violations=[_violation(row) for row in rows])

    async def ReviewViolation(self, request, context):
        caller = current_caller()
        decision = {pb.REVIEW_DECISION_UPHOLD: UPHOLD, pb.REVIEW_DECISION_OVERTURN: OVERTURN}.get(request.decision, "")
        outcome = await self._review_violation(
            ReviewViolation(
                actor_id=caller.actor_id,
                role=caller.role,
                ip=caller.ip,
                violation_id=request.violation_id,
                decision=decision,
                reason=request.reason,
            )
        )
        return pb.ReviewViolationResponse(
            violation=_violation(outcome.violation), account_status=outcome.account_status
        )

    async def ImportNewsCalendar(self, request, context):
        caller = current_caller()
        tiers = frozenset(request.restricted_tiers) or frozenset({1})
        # Unspecified stays CSV, as before the field existed; an enum value this build does not know is refused.
        formats = {
            pb.NEWS_CALENDAR_FORMAT_UNSPECIFIED: "csv",
            pb.NEWS_CALENDAR_FORMAT_CSV: "csv",
            pb.NEWS_CALENDAR_FORMAT_ICS: "ics",
        }
        imported, restricted = await self._import_news(
            ImportNewsCalendar(
                caller.actor_id,
                caller.role,
                caller.ip,
                request.csv,
                tiers,
                format=formats.get(request.format, f"unknown ({request.format})"),
                ics_text=request.ics,
            )
        )
        return pb.ImportNewsCalendarResponse(imported=imported, restricted=restricted)

    async def ListQuarantinedEvents(self, request, context):
        caller = current_caller()
        rows = await self._list_quarantined(Viewer(caller.actor_id, caller.role), request.page_size)
        return pb.ListQuarantinedEventsResponse(
            events=[
                pb.QuarantinedEvent(
                    provider_event_id=row["provider_event_id"],
                    platform_account_id=_text(row["platform_account_id"]),
                    event_type=row["event_type"],
                    payload_sha256=row["payload_sha256"],
                    received_at=_timestamp(row["received_at"]),
                    reason=row["reason"],
                )
                for row in rows
            ]
        )
