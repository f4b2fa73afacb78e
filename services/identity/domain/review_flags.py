"""Review flags: "support should look at this user", raised by an event (a chargeback) and cleared by staff.

A flag is not a suspension: the user keeps signing in and trading. It carries the evidence that raised it so the
reviewer does not have to go and find it, and it is cleared only by a person, with a reason (ADR 0057).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from libs.domain.errors import FailedPrecondition
from services.identity.domain.user import require_reason


class ReviewFlagReason(StrEnum):
    CHARGEBACK = "chargeback"


class ReviewFlagStatus(StrEnum):
    OPEN = "open"
    CLEARED = "cleared"


@dataclass(eq=False)
class ReviewFlag:
    flag_id: UUID
    user_id: UUID
    reason: ReviewFlagReason
    source: str  # the service whose event raised it, e.g. "challenges"
    source_ref: str  # what in that service it is about, e.g. the Stripe dispute id; one flag per (user, reason, ref)
    evidence: Mapping[str, str]
    raised_at: datetime
    status: ReviewFlagStatus = ReviewFlagStatus.OPEN
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_reason: str | None = None
    version: int = 0

    @classmethod
    def for_chargeback(
        cls, *, flag_id: UUID, user_id: UUID, dispute_id: str, evidence: Mapping[str, str], at: datetime
    ) -> ReviewFlag:
        if not dispute_id:
            raise ValueError("a chargeback flag needs the dispute id")
        return cls(
            flag_id=flag_id,
            user_id=user_id,
            reason=ReviewFlagReason.CHARGEBACK,
            source="challenges",
            source_ref=dispute_id,
            evidence=dict(evidence),
            raised_at=at,
        )

    @property
    def is_open(self) -> bool:
        return self.status is ReviewFlagStatus.OPEN

    def clear(self, *, by: str, reason: str, at: datetime) -> None:
        """Staff decided; the flag stays on record, closed, with who and why."""
        text = require_reason(reason)
        if not self.is_open:
            raise FailedPrecondition(
                f"review flag {self.flag_id} was already cleared by {self.cleared_by}",
                reason="REVIEW_FLAG_ALREADY_CLEARED",
            )
        self.status = ReviewFlagStatus.CLEARED
        self.cleared_at = at
        self.cleared_by = by
        self.clear_reason = text
        self.version += 1

    def add_evidence(self, facts: Mapping[str, str]) -> bool:
        """Later facts about the same matter (the dispute's outcome); True when anything changed. The flag's status
        is untouched: even a dispute won is for staff to judge (ADR 0057)."""
        merged = {**self.evidence, **facts}
        if merged == dict(self.evidence):
            return False
        self.evidence = merged
        self.version += 1
        return True

    def summary(self) -> dict[str, str | None]:
        return {
            "flag_id": str(self.flag_id),
            "reason": self.reason.value,
            "source_ref": self.source_ref,
            "status": self.status.value,
            "clear_reason": self.clear_reason,
        }
