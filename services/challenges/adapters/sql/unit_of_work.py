"""The challenges unit of work: its repositories, idempotency keys and audit log share one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.platform.audit import SqlAlchemyAuditLog
from libs.platform.db import SqlAlchemyUnitOfWork
from libs.platform.idempotency import SqlAlchemyIdempotencyStore
from services.challenges.adapters.sql.order_repository import (
    SqlAlchemyAccountRepository,
    SqlAlchemyOrderRepository,
    SqlAlchemyPlatformResets,
    SqlAlchemyProvisioningJobs,
    SqlAlchemyStripeEventStore,
)
from services.challenges.adapters.sql.program_repository import SqlAlchemyProgramRepository
from services.challenges.adapters.sql.subscription_repository import SqlAlchemySubscriptions
from services.challenges.adapters.sql.tables import SCHEMA


class SqlAlchemyChallengesUnitOfWork(SqlAlchemyUnitOfWork):
    def _open(self, session: AsyncSession) -> None:
        self.programs = SqlAlchemyProgramRepository(session, self.track)
        self.idempotency = SqlAlchemyIdempotencyStore(session, SCHEMA)
        self.audit = SqlAlchemyAuditLog(session, SCHEMA)
        self.orders = SqlAlchemyOrderRepository(session, self.track)
        self.accounts = SqlAlchemyAccountRepository(session, self.track)
        self.stripe_events = SqlAlchemyStripeEventStore(session)
        self.provisioning = SqlAlchemyProvisioningJobs(session)
        self.platform_resets = SqlAlchemyPlatformResets(session)
        self.subscriptions = SqlAlchemySubscriptions(session)
