"""/v1/programs: the catalogue a trader browses before buying, answered from the challenges service."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from libs.domain.money import Money

router = APIRouter(prefix="/v1/programs", tags=["programs"])

_PHASES = {1: "phase_1", 2: "phase_2", 3: "funded"}
_STATUSES = {1: "published", 2: "retired"}


class MoneyOut(BaseModel):
    amount: str = Field(description="Decimal string, exact", examples=["249.00"])
    currency: str = Field(examples=["USD"])


class PhaseOut(BaseModel):
    kind: Literal["phase_1", "phase_2", "funded"]
    rule_set: dict[str, Any] = Field(description="The rule set in the replay `rule_set` format")


class ScalingStepOut(BaseModel):
    after_payouts: int = Field(description="Completed payouts on the funded account that make the step due")
    account_size: MoneyOut = Field(description="The size the funded account steps up to")


class ProgramOut(BaseModel):
    id: str = Field(examples=["eval-50k"])
    version: int
    version_id: str
    name: str
    account_size: MoneyOut
    price: MoneyOut
    profit_split: str = Field(examples=["0.80"])
    reset_fee: MoneyOut | None = Field(description="What a reset costs; null when this version sells no resets")
    free_retries: int = Field(description="Free retries (a new attempt after a failure, without payment) included")
    scaling_plan: list[ScalingStepOut] = Field(description="The funded account's scaling plan, in order")
    billing: Literal["one_time", "monthly"] = Field(
        description="one_time: the price buys the evaluation; monthly: the price is charged every month"
    )
    status: Literal["published", "retired"]
    phases: list[PhaseOut]
    published_at: datetime


class ProgramList(BaseModel):
    programs: list[ProgramOut]
    next_page_token: str | None = None


def _money(message) -> MoneyOut:
    money = Money.from_units_nanos(message.units, message.nanos, message.currency_code)
    return MoneyOut(amount=str(money.amount), currency=money.currency.value)


def scaling_plan_out(steps) -> list[ScalingStepOut]:
    return [ScalingStepOut(after_payouts=s.after_payouts, account_size=_money(s.account_size)) for s in steps]


def program_out(p) -> ProgramOut:
    return ProgramOut(
        id=p.program_id,
        version=p.version,
        version_id=p.version_id,
        name=p.name,
        account_size=_money(p.account_size),
        price=_money(p.price),
        profit_split=p.profit_split,
        reset_fee=_money(p.reset_fee) if p.HasField("reset_fee") else None,
        free_retries=p.free_retries,
        scaling_plan=scaling_plan_out(p.scaling_plan),
        billing=p.billing or "one_time",
        status=_STATUSES[p.status],
        phases=[PhaseOut(kind=_PHASES[ph.kind], rule_set=json.loads(ph.rule_set_json)) for ph in p.phases],
        published_at=p.published_at.ToDatetime(tzinfo=UTC),
    )


@router.get("", response_model=ProgramList, summary="List the programs on sale")
async def list_programs(
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=512)] = "",
) -> ProgramList:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    upstreams = request.app.state.upstreams
    response = await upstreams.challenges().ListPrograms(
        pb.ListProgramsRequest(page_size=page_size, page_token=page_token),
        timeout=upstreams.timeout,
        metadata=upstreams.metadata(),
    )
    return ProgramList(
        programs=[program_out(p) for p in response.programs], next_page_token=response.next_page_token or None
    )


@router.get(
    "/{program_id}",
    response_model=ProgramOut,
    summary="One program, its current version or the version asked for",
    responses={404: {"description": "No such program"}, 400: {"description": "Malformed program id"}},
)
async def get_program(
    request: Request, program_id: str, version: Annotated[int | None, Query(ge=1)] = None
) -> ProgramOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    upstreams = request.app.state.upstreams
    response = await upstreams.challenges().GetProgram(
        pb.GetProgramRequest(program_id=program_id, version=version or 0),
        timeout=upstreams.timeout,
        metadata=upstreams.metadata(),
    )
    return program_out(response.program)
