"""Carries out the enforcement jobs the decisions wrote (flatten, disable, enable after an overturn, notify),
outside their transaction.

A job is leased (its next attempt pushed out by the lease) and committed before the platform is called, then
marked done; a crash between the call and the mark leaves the lease to expire and the job runs again under the same
Idempotency-Key, which the platform answers from its record. A failure backs off exponentially. Flatten comes
before disable for one account (jobs of an account run in id order, one at a time). The worker is woken right
after a breach commits, so enforcement does not wait for the poll.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.adapters.sql.tables import enforcement_jobs
from services.rules.adapters.yourpropfirm.enforcement import PlatformRefused

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=30)


class EnforcementWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        platform,
        notices,
        *,
        poll_seconds: float = 0.5,
        batch: int = 20,
    ) -> None:
        self._sessions = sessions
        self._platform = platform
        self._notices = notices
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                done = await self.run_once()
            except Exception:  # the worker must outlive a database blip
                log.exception("enforcement pass failed")
                done = 0
            if done == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def _lease(self) -> list[dict]:
        j = enforcement_jobs
        async with self._sessions() as session, session.begin():
            # One job per account per pass, its oldest: an account's disable never overtakes its flatten.
            oldest = select(func.min(j.c.id)).where(j.c.done_at.is_(None)).group_by(j.c.account_id)
            rows = (
                (
                    await session.execute(
                        select(j)
                        .where(j.c.id.in_(oldest), j.c.done_at.is_(None), j.c.next_attempt_at <= func.now())
                        .order_by(j.c.id)
                        .limit(self._batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                .mappings()
                .all()
            )
            if rows:
                await session.execute(
                    update(j)
                    .where(j.c.id.in_([row["id"] for row in rows]))
                    .values(next_attempt_at=func.now() + LEASE, attempts=j.c.attempts + 1)
                )
        return [dict(row) for row in rows]

    async def run_once(self) -> int:
        jobs = await self._lease()
        if not jobs:
            return 0
        await asyncio.gather(*(self._carry_out(job) for job in jobs))
        return len(jobs)

    async def _carry_out(self, job: dict) -> None:
        j = enforcement_jobs
        payload = job["payload"]
        try:
            if job["kind"] == "flatten":
                await self._platform.flatten(payload["platform_account_id"], job["idempotency_key"], payload["reason"])
            elif job["kind"] == "disable":
                await self._platform.disable(payload["platform_account_id"], job["idempotency_key"], payload["reason"])
            elif job["kind"] == "enable":
                await self._platform.enable(payload["platform_account_id"], job["idempotency_key"], payload["reason"])
            elif job["kind"] == "notify":
                await self._notices.notify_user(payload["user_id"], payload["notice"])
            else:
                raise ValueError(f"unknown enforcement job kind {job['kind']!r}")
        except PlatformRefused as exc:
            # Permanent: closed with the reason, for the runbook's query of refused enforcements (rules-enforcement).
            log.error("enforcement job %s (%s) refused by the platform: %s", job["id"], job["kind"], exc)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(j).where(j.c.id == job["id"]).values(done_at=func.now(), last_error=f"refused: {exc}"[:2000])
                )
            return
        except Exception as exc:
            backoff = min(300.0, 0.5 * 2 ** min(job["attempts"] + 1, 10))
            log.warning("enforcement job %s (%s) failed: %s", job["id"], job["kind"], exc)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(j)
                    .where(j.c.id == job["id"])
                    .values(last_error=str(exc)[:2000], next_attempt_at=func.now() + timedelta(seconds=backoff))
                )
            return
        async with self._sessions() as session, session.begin():
            await session.execute(update(j).where(j.c.id == job["id"]).values(done_at=func.now(), last_error=None))
