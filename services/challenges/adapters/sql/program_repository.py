"""SQLAlchemy repository for the program catalogue: rows to domain values explicitly, optimistic updates."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import ConcurrencyConflict
from libs.domain.ids import ProgramId
from libs.domain.money import Currency, Money
from services.challenges.adapters.sql.tables import program_versions, programs
from services.challenges.domain.program import (
    Phase,
    PhaseKind,
    Program,
    ProgramTerms,
    ProgramVersion,
    VersionStatus,
)
from services.challenges.domain.scaling import plan_from_json, plan_to_json
from services.challenges.domain.subscription import Billing


def _row_to_version(row) -> ProgramVersion:
    currency = Currency(row.currency)
    return ProgramVersion(
        version_id=row.version_id,
        program_id=ProgramId(row.program_id),
        version=row.version,
        terms=ProgramTerms(
            name=row.name,
            account_size=Money(_normal(row.account_size), currency),
            price=Money(_normal(row.price), currency),
            profit_split=_normal(row.profit_split),
            phases=tuple(Phase(PhaseKind(p["kind"]), p["rule_set"]) for p in row.phases),
            billing=Billing(row.billing),
            reset_fee=Money(_normal(row.reset_fee), currency) if row.reset_fee is not None else None,
            free_retries=row.free_retries,
            scaling_plan=plan_from_json(row.scaling_plan),
        ),
        status=VersionStatus(row.status),
        published_at=row.published_at,
    )


def _normal(value: Decimal) -> Decimal:
    """NUMERIC(20,4) reads back as 50000.0000; show it as stored by the admin's precision (cents)."""
    return value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value


class SqlAlchemyProgramRepository:
    def __init__(self, session: AsyncSession, track) -> None:
        self._session = session
        self._track = track

    async def get(self, program_id: ProgramId, *, for_update: bool = False) -> Program | None:
        query = select(programs).where(programs.c.program_id == program_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        program = Program(
            program_id=ProgramId(row.program_id), current_version=row.current_version, version=row.row_version
        )
        self._track(program)
        return program

    async def add(self, program: Program) -> None:
        await self._session.execute(
            programs.insert().values(
                program_id=program.program_id,
                current_version=program.current_version,
                row_version=program.version,
                created_at=func.now(),
            )
        )
        self._track(program)

    async def save(self, program: Program) -> None:
        result = await self._session.execute(
            update(programs)
            .where(programs.c.program_id == program.program_id, programs.c.row_version == program.version - 1)
            .values(current_version=program.current_version, row_version=program.version)
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"program {program.program_id} was changed by someone else; retry")

    async def add_version(self, version: ProgramVersion) -> None:
        await self._session.execute(
            update(program_versions)
            .where(
                program_versions.c.program_id == version.program_id,
                program_versions.c.status == VersionStatus.PUBLISHED.value,
            )
            .values(status=VersionStatus.RETIRED.value)
        )
        terms = version.terms
        await self._session.execute(
            program_versions.insert().values(
                version_id=version.version_id,
                program_id=version.program_id,
                version=version.version,
                name=terms.name,
                currency=terms.price.currency.value,
                account_size=terms.account_size.amount,
                price=terms.price.amount,
                profit_split=terms.profit_split,
                phases=[{"kind": p.kind.value, "rule_set": dict(p.rule_set)} for p in terms.phases],
                status=version.status.value,
                published_at=version.published_at,
                billing=terms.billing.value,
                reset_fee=terms.reset_fee.amount if terms.reset_fee else None,
                free_retries=terms.free_retries,
                scaling_plan=plan_to_json(terms.scaling_plan),
            )
        )

    async def get_version(self, program_id: ProgramId, version: int | None) -> ProgramVersion | None:
        query = select(program_versions).where(program_versions.c.program_id == program_id)
        if version is None:
            query = query.where(program_versions.c.status == VersionStatus.PUBLISHED.value)
        else:
            query = query.where(program_versions.c.version == version)
        row = (await self._session.execute(query)).first()
        return _row_to_version(row) if row else None

    async def list_current(self, *, after_key: str | None, limit: int) -> list[ProgramVersion]:
        pv = program_versions
        cents = func.to_char(func.floor(pv.c.account_size * 100), "FM00000000000000000000")
        key = cents.concat(":").concat(pv.c.program_id)
        query = select(pv).where(pv.c.status == VersionStatus.PUBLISHED.value)
        if after_key:
            query = query.where(key > after_key)
        query = query.order_by(pv.c.account_size, pv.c.program_id).limit(limit)
        return [_row_to_version(row) for row in (await self._session.execute(query))]
