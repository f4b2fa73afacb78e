"""Command: an admin publishes a new version of a program (or the first version of a new one).

Idempotent by request id; optimistic on the program's current version; audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, PermissionDenied
from libs.domain.fingerprint import fingerprint
from libs.domain.ids import new_uuid, parse_program_id, parse_uuid
from libs.domain.money import Money
from services.challenges.application.ports import CatalogueUnitOfWork
from services.challenges.domain.program import Program, ProgramNotFound, ProgramVersion, build_terms
from services.challenges.domain.scaling import ScalingStep, plan_to_json

OPERATION = "CreateProgramVersion"


@dataclass(frozen=True)
class Actor:
    actor_id: str
    role: str
    ip: str | None = None


@dataclass(frozen=True)
class CreateProgramVersion:
    request_id: str
    program_id: str
    expected_current_version: int | None
    name: str
    account_size: Money
    price: Money
    profit_split: str
    phases: Sequence[tuple[str, Any]]  # (phase kind, rule-set JSON object)
    actor: Actor
    # Retry and scaling terms (ADR 0054): no reset fee means the version sells no resets.
    reset_fee: Money | None = None
    free_retries: int = 0
    scaling_plan: tuple[ScalingStep, ...] = ()
    billing: str = ""  # one_time (the default when empty) | monthly (ADR 0051)

    def fingerprint(self) -> str:
        return fingerprint(
            {
                "program_id": self.program_id,
                "expected": self.expected_current_version,
                "name": self.name,
                "account_size": str(self.account_size),
                "price": str(self.price),
                "profit_split": self.profit_split,
                "phases": [[k, r] for k, r in self.phases],
                # Only when given, so a key remembered before these terms existed still matches its retry.
                **({"reset_fee": str(self.reset_fee)} if self.reset_fee else {}),
                **({"free_retries": self.free_retries} if self.free_retries else {}),
                **({"scaling_plan": plan_to_json(self.scaling_plan)} if self.scaling_plan else {}),
                # Only when given, so a key remembered before monthly billing existed still matches its retry.
                **({"billing": self.billing} if self.billing else {}),
            }
        )


class CreateProgramVersionHandler:
    def __init__(self, uow: Callable[[], CatalogueUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, cmd: CreateProgramVersion) -> ProgramVersion:
        if cmd.actor.role != "admin":
            raise PermissionDenied("only an admin may publish a program version", reason="PERMISSION_DENIED")
        try:
            program_id = parse_program_id(cmd.program_id)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="program_id") from None
        terms = build_terms(
            name=cmd.name,
            account_size=cmd.account_size,
            price=cmd.price,
            profit_split=cmd.profit_split,
            phases=cmd.phases,
            reset_fee=cmd.reset_fee,
            free_retries=cmd.free_retries,
            scaling_plan=cmd.scaling_plan,
            billing=cmd.billing,
        )
        params = cmd.fingerprint()
        async with self._uow() as uow:
            remembered = await uow.idempotency.recall(cmd.request_id, OPERATION, params)
            if remembered is not None:
                replay = await uow.programs.get_version(program_id, remembered["version"])
                if replay is None:  # cannot happen while versions are never deleted; say so loudly if it does
                    raise ProgramNotFound(program_id, remembered["version"])
                return replay
            program = await uow.programs.get(program_id, for_update=True)
            before = None
            if program is None:
                program = Program.new(program_id)
                await uow.programs.add(program)
            else:
                before = await uow.programs.get_version(program_id, program.current_version)
            published = program.publish(
                terms,
                version_id=parse_uuid("version id", str(new_uuid())),
                expected_current_version=cmd.expected_current_version,
                clock=self._clock,
            )
            await uow.programs.save(program)
            await uow.programs.add_version(published)
            await uow.audit.append(
                AuditEntry(
                    occurred_at=published.published_at,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="program.version.published",
                    subject_type="program",
                    subject_id=program_id,
                    before=_summary(before) if before else None,
                    after=_summary(published),
                )
            )
            await uow.idempotency.remember(
                cmd.request_id,
                OPERATION,
                params,
                {"version": published.version, "version_id": str(published.version_id)},
            )
            await uow.commit()
        return published


def _summary(version: ProgramVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "version_id": str(version.version_id),
        "name": version.terms.name,
        "price": str(version.terms.price.amount),
        "currency": version.terms.price.currency.value,
        "account_size": str(version.terms.account_size.amount),
        "profit_split": str(version.terms.profit_split),
        "phases": [{"kind": p.kind.value, "rule_set": dict(p.rule_set)} for p in version.terms.phases],
    }
