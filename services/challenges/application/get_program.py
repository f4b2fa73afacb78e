"""Query: one program, its current version or a given one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.errors import InvalidArgument
from libs.domain.ids import parse_program_id
from services.challenges.application.ports import CatalogueUnitOfWork
from services.challenges.domain.program import ProgramNotFound, ProgramVersion


@dataclass(frozen=True)
class GetProgram:
    program_id: str
    version: int | None = None


class GetProgramHandler:
    def __init__(self, uow: Callable[[], CatalogueUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: GetProgram) -> ProgramVersion:
        try:
            program_id = parse_program_id(query.program_id)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="program_id") from None
        if query.version is not None and query.version < 1:
            raise InvalidArgument("version must be 1 or more (or absent for the current one)", field="version")
        async with self._uow() as uow:
            found = await uow.programs.get_version(program_id, query.version)
        if found is None:
            raise ProgramNotFound(program_id, query.version)
        return found
