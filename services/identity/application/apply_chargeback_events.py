"""Event handler: a chargeback reported by the challenges service (ChargebackOpened / ChargebackClosed, through its
outbox and our inbox) flags the user for review, with the dispute as evidence, audited.

It never suspends anyone: challenges already suspended the disputed account, and whether the person behind it may
keep trading is support's decision (ADR 0057). Runs in the inbox's transaction, so the inbox row, the flag and the
audit record commit together; the inbox makes a redelivery a no-op and the (user, reason, dispute) key makes even a
second event about the same dispute raise one flag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.identity.application.common import audit_entry
from services.identity.application.ports import AuditLog, ReviewFlagRepository, UserRepository
from services.identity.domain.review_flags import ReviewFlag, ReviewFlagReason

log = logging.getLogger(__name__)
SOURCE_ACTOR = "challenges"


@dataclass(frozen=True)
class ChargebackReport:
    """What the event says, read tolerantly by the inbox adapter."""

    user_id: UUID
    dispute_id: str
    at: datetime
    evidence: Mapping[str, str]  # account, order, payment, amount, the bank's reason ...
    closed_status: str | None = None  # None: the dispute opened; "won" / "lost": it closed


async def apply_chargeback_report(
    users: UserRepository,
    flags: ReviewFlagRepository,
    audit: AuditLog,
    report: ChargebackReport,
    new_id: Callable[[], UUID],
) -> str:
    """Returns what happened (for the log): flagged, already_flagged, evidence_added, unchanged, unknown_user."""
    user = await users.get(report.user_id)
    if user is None:
        # Orders are placed by identity's users, so this is bad data, not a race: retrying can never help.
        log.warning("chargeback %s names user %s, who does not exist; ignored", report.dispute_id, report.user_id)
        return "unknown_user"
    evidence = dict(report.evidence)
    if report.closed_status is not None:
        closing = {"dispute_status": report.closed_status, "dispute_closed_at": report.at.isoformat()}
        evidence.update(closing)
        existing = await flags.find(user.user_id, ReviewFlagReason.CHARGEBACK, report.dispute_id, for_update=True)
        if existing is not None:
            before = existing.summary()
            if not existing.add_evidence(closing):
                return "unchanged"
            await flags.save(existing)
            await _audit(audit, report, "user.review_flag_evidence_added", before, existing)
            return "evidence_added"
        # The opening was never seen (a dispute from before flags existed): the closed dispute still gets reviewed.
    flag = ReviewFlag.for_chargeback(
        flag_id=new_id(), user_id=user.user_id, dispute_id=report.dispute_id, evidence=evidence, at=report.at
    )
    if not await flags.add(flag):
        return "already_flagged"
    await _audit(audit, report, "user.flagged_for_review", None, flag)
    return "flagged"


async def _audit(audit: AuditLog, report: ChargebackReport, action: str, before, flag: ReviewFlag) -> None:
    await audit.append(
        audit_entry(
            at=report.at,
            actor_id=SOURCE_ACTOR,
            actor_role="system",
            ip=None,
            action=action,
            subject_id=str(flag.user_id),
            before=before,
            after={**flag.summary(), "evidence": dict(flag.evidence)},
        )
    )
