"""Ports the challenges use cases need; adapters implement them structurally."""

from __future__ import annotations

from typing import Protocol

from libs.domain.audit import AuditEntry
from libs.domain.ids import ProgramId
from services.challenges.domain.program import Program, ProgramVersion


class ProgramRepository(Protocol):
    async def get(self, program_id: ProgramId, *, for_update: bool = False) -> Program | None: ...

    async def add(self, program: Program) -> None: ...

    async def save(self, program: Program) -> None:
        """Persist a changed program; raises ConcurrencyConflict if someone else changed it first."""
        ...

    async def add_version(self, version: ProgramVersion) -> None:
        """Store a newly published version and retire the program's previous one."""
        ...

    async def get_version(self, program_id: ProgramId, version: int | None) -> ProgramVersion | None:
        """A specific version, or the current published one when version is None."""
        ...

    async def list_current(self, *, after_key: str | None, limit: int) -> list[ProgramVersion]:
        """Current versions ordered by (account size, program id); after_key is the last item's sort key."""
        ...


class IdempotencyStore(Protocol):
    async def recall(self, key: str, operation: str, params_fingerprint: str) -> dict | None: ...

    async def remember(self, key: str, operation: str, params_fingerprint: str, response: dict) -> None: ...


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> str: ...


class CatalogueUnitOfWork(Protocol):
    programs: ProgramRepository
    idempotency: IdempotencyStore
    audit: AuditLog

    async def __aenter__(self) -> CatalogueUnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def commit(self) -> None: ...
