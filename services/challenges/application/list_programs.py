"""Query: the current version of every program, a page at a time, smallest account first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.errors import InvalidArgument
from services.challenges.application.ports import CatalogueUnitOfWork
from services.challenges.domain.program import ProgramVersion

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class ListPrograms:
    page_size: int = 0
    after_key: str | None = None  # decoded from the page token by the adapter


@dataclass(frozen=True)
class ProgramPage:
    programs: list[ProgramVersion]
    next_after_key: str | None


def sort_key(version: ProgramVersion) -> str:
    """Stable, string-comparable order: account size (zero-padded cents), then program id."""
    cents = version.terms.account_size.to_minor_units(rounding="ROUND_DOWN")
    return f"{cents:020d}:{version.program_id}"


class ListProgramsHandler:
    def __init__(self, uow: Callable[[], CatalogueUnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, query: ListPrograms) -> ProgramPage:
        if query.page_size < 0:
            raise InvalidArgument("page_size must not be negative", field="page_size")
        size = min(query.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        async with self._uow() as uow:
            rows = await uow.programs.list_current(after_key=query.after_key, limit=size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return ProgramPage(programs=rows, next_after_key=sort_key(rows[-1]) if more and rows else None)
