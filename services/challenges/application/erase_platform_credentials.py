"""Job: erase sealed platform passwords that are no longer to be revealed (ADR 0045).

A password never revealed is erased `retention` after it was sealed (the trader had days to read it; after that the
platform's own reset is the way); a revealed one once the re-reveal window after its first reveal has passed. Erasing
sets the sealed value to NULL and keeps the row (who revealed it when, for the 410 answer and support), with an audit
entry per row. Rows are taken under SKIP LOCKED, so a reveal in progress keeps its row and several processes may run
the sweep; a full batch runs the next one at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from services.challenges.application.job_passes import run_passes
from services.challenges.application.ports import CredentialsUnitOfWork
from services.challenges.domain.platform_credentials import EXPIRED, REVEALED, SealedPlatformCredentials

log = logging.getLogger(__name__)


def erasure_audit(
    stored: SealedPlatformCredentials, now: datetime, *, actor_id: str, actor_role: str, ip: str | None
) -> AuditEntry:
    return AuditEntry(
        occurred_at=now,
        actor_id=actor_id,
        actor_role=actor_role,
        ip=ip,
        action="account.platform_credentials_erased",
        subject_type="account",
        subject_id=str(stored.account_id),
        before={"sealed": True},
        after={
            "sealed": False,
            "reason": stored.erased_reason,
            "revealed_at": stored.revealed_at.isoformat() if stored.revealed_at else None,
        },
    )


class ErasePlatformCredentials:
    def __init__(
        self,
        uow: Callable[[], CredentialsUnitOfWork],
        clock: Clock,
        *,
        retention: timedelta,
        reveal_window: timedelta,
        poll_seconds: float = 300.0,
        batch_size: int = 200,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention
        self._window = reveal_window
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._stopping = asyncio.Event()

    async def run_once(self) -> int:
        """Erase one batch of what is due now; returns how many were erased."""
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.platform_credentials.due_for_erasure(
                now, retention=self._retention, reveal_window=self._window, limit=self._batch_size
            )
            for stored in due:
                stored.erase(now, REVEALED if stored.revealed_at is not None else EXPIRED)
                await uow.platform_credentials.save(stored)
                await uow.audit.append(
                    erasure_audit(stored, now, actor_id="credentials-sweep", actor_role="system", ip=None)
                )
            await uow.commit()
        return len(due)

    async def run(self) -> None:
        await run_passes(
            self.run_once,
            self._stopping,
            batch_size=self._batch_size,
            poll_seconds=self._poll_seconds,
            log=log,
            failure="platform credentials sweep failed",
        )

    def stop(self) -> None:
        self._stopping.set()
