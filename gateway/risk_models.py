"""Response bodies of the risk routes. Money and ratios are decimal strings, never JSON numbers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class RiskStateOut(BaseModel):
    account_id: str
    phase: str
    status: str  # active, locked, failed, passed, stopped
    balance: str
    equity: str
    floor: str
    distance_to_floor: str
    day_pnl: str
    daily_loss_limit: str | None
    trading_days: int
    consistency_ratio: str | None
    profit_target: str | None
    progress_to_target: str | None
    failed_rule: str | None
    as_of: datetime | None


class ViolationOut(BaseModel):
    violation_id: str
    account_id: str
    rule: str
    severity: str  # hard, soft, conduct
    occurred_at: datetime
    evidence: dict
    trigger_event_id: str | None
    review_status: str


class ReviewIn(BaseModel):
    decision: Literal["uphold", "overturn"]
    reason: str = Field(min_length=1, max_length=1000)


class ReviewOut(BaseModel):
    violation: ViolationOut
    account_status: str


class ViolationList(BaseModel):
    violations: list[ViolationOut]


def _optional(value: str) -> str | None:
    return value or None


def risk_state_out(state) -> RiskStateOut:
    return RiskStateOut(
        account_id=state.account_id,
        phase=state.phase,
        status=state.status,
        balance=state.balance,
        equity=state.equity,
        floor=state.floor,
        distance_to_floor=state.distance_to_floor,
        day_pnl=state.day_pnl,
        daily_loss_limit=_optional(state.daily_loss_limit),
        trading_days=state.trading_days,
        consistency_ratio=_optional(state.consistency_ratio),
        profit_target=_optional(state.profit_target),
        progress_to_target=_optional(state.progress_to_target),
        failed_rule=_optional(state.failed_rule),
        as_of=state.as_of.ToDatetime().astimezone() if state.HasField("as_of") else None,
    )


def violation_out(violation) -> ViolationOut:
    return ViolationOut(
        violation_id=violation.violation_id,
        account_id=violation.account_id,
        rule=violation.rule,
        severity=violation.severity,
        occurred_at=violation.occurred_at.ToDatetime().astimezone(),
        evidence=json.loads(violation.evidence_json or "{}"),
        trigger_event_id=_optional(violation.trigger_event_id),
        review_status=violation.review_status,
    )
