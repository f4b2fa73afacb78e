"""The identity unit of work: its repositories, the audit log and the outbox share one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.platform.audit import SqlAlchemyAuditLog
from libs.platform.db import SqlAlchemyUnitOfWork
from services.identity.adapters.sql.kyc_repositories import SqlAlchemyKycRepository, SqlAlchemyOAuthIdentityRepository
from services.identity.adapters.sql.repositories import (
    SqlAlchemyIpAllowListRepository,
    SqlAlchemyLoginHistory,
    SqlAlchemyMfaRepository,
    SqlAlchemyReviewFlagRepository,
    SqlAlchemySessionRepository,
    SqlAlchemySigningKeyRepository,
    SqlAlchemyTaxProfileRepository,
    SqlAlchemyUserRepository,
    SqlAlchemyVerificationTokenLedger,
)
from services.identity.adapters.sql.tables import SCHEMA


class SqlAlchemyIdentityUnitOfWork(SqlAlchemyUnitOfWork):
    def _open(self, session: AsyncSession) -> None:
        self.users = SqlAlchemyUserRepository(session, self.track)
        self.sessions = SqlAlchemySessionRepository(session)
        self.mfa = SqlAlchemyMfaRepository(session)
        self.signing_keys = SqlAlchemySigningKeyRepository(session)
        self.login_history = SqlAlchemyLoginHistory(session)
        self.allow_lists = SqlAlchemyIpAllowListRepository(session)
        self.tax_profiles = SqlAlchemyTaxProfileRepository(session)
        self.verification_tokens = SqlAlchemyVerificationTokenLedger(session)
        self.audit = SqlAlchemyAuditLog(session, SCHEMA)
        self.kyc = SqlAlchemyKycRepository(session, self.track)
        self.oauth_identities = SqlAlchemyOAuthIdentityRepository(session)
        self.review_flags = SqlAlchemyReviewFlagRepository(session)
