"""A user's KYC case: one per user, driven by Stripe Identity VerificationSessions and decided by staff.

The lifecycle is an explicit transition table; anything else is an InvalidTransition naming the current state:

    not_started --open--> pending
    needs_review --open--> pending                  (the user tries again with a new VerificationSession)
    pending --stripe_processing--> pending
    needs_review --stripe_processing--> pending     (the user resubmitted on the same session)
    pending | needs_review --stripe_verified--> approved
    pending --stripe_requires_input | stripe_canceled--> needs_review
    pending | needs_review --review_approve--> approved
    pending | needs_review --review_reject--> rejected
    pending | needs_review --review_needs_review--> needs_review   (e.g. a reviewer asks for a document)

approved and rejected are final. A Stripe event is a fact about Stripe, not a command: when the table has no row
for it (a late `verified` after a reviewer rejected, say), the case records that it saw it and does not move,
instead of failing a webhook Stripe would resend for days. A reviewer's decision is a command: no row, an error.

Ordering: Stripe does not promise delivery order, so each event carries the time Stripe created it and the
session status it reports. An event older than the last one applied for the same session is stale and changes
nothing; within one second (Stripe's `created` has second resolution) the later status in Stripe's own order
(requires_input < processing < requires_input-with-error | verified < canceled) wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from libs.domain.aggregate import Aggregate
from libs.domain.errors import InvalidArgument, InvalidTransition
from libs.domain.events import DomainEvent
from services.identity.domain.user import KycStatus

MAX_NOTES_LENGTH = 4000
EVENT_PREFIX = "identity.verification_session."


class StripeSessionSignal(StrEnum):
    """What a identity.verification_session.* event says the session now is."""

    CREATED = "created"  # requires_input, nothing submitted yet
    PROCESSING = "processing"
    REQUIRES_INPUT = "requires_input"  # a check failed (last_error says why)
    VERIFIED = "verified"
    CANCELED = "canceled"
    REDACTED = "redacted"


# Where each signal sits in Stripe's session lifecycle: the tie-break for events created in the same second.
SIGNAL_RANK = {
    StripeSessionSignal.CREATED: 0,
    StripeSessionSignal.PROCESSING: 1,
    StripeSessionSignal.REQUIRES_INPUT: 2,
    StripeSessionSignal.VERIFIED: 2,
    StripeSessionSignal.CANCELED: 3,
    StripeSessionSignal.REDACTED: 4,
}
# The action of the transition table each signal asks for; None: the event moves nothing (created, redacted).
SIGNAL_ACTION = {
    StripeSessionSignal.CREATED: None,
    StripeSessionSignal.PROCESSING: "stripe_processing",
    StripeSessionSignal.REQUIRES_INPUT: "stripe_requires_input",
    StripeSessionSignal.VERIFIED: "stripe_verified",
    StripeSessionSignal.CANCELED: "stripe_canceled",
    StripeSessionSignal.REDACTED: None,
}


class ReviewDecision(StrEnum):
    APPROVE = "review_approve"
    REJECT = "review_reject"
    NEEDS_REVIEW = "review_needs_review"


S = KycStatus
TRANSITIONS: dict[tuple[KycStatus, str], KycStatus] = {
    (S.NOT_STARTED, "open"): S.PENDING,
    (S.NEEDS_REVIEW, "open"): S.PENDING,
    (S.PENDING, "stripe_processing"): S.PENDING,
    (S.NEEDS_REVIEW, "stripe_processing"): S.PENDING,
    (S.PENDING, "stripe_verified"): S.APPROVED,
    (S.NEEDS_REVIEW, "stripe_verified"): S.APPROVED,
    (S.PENDING, "stripe_requires_input"): S.NEEDS_REVIEW,
    (S.PENDING, "stripe_canceled"): S.NEEDS_REVIEW,
    (S.PENDING, "review_approve"): S.APPROVED,
    (S.NEEDS_REVIEW, "review_approve"): S.APPROVED,
    (S.PENDING, "review_reject"): S.REJECTED,
    (S.NEEDS_REVIEW, "review_reject"): S.REJECTED,
    (S.PENDING, "review_needs_review"): S.NEEDS_REVIEW,
    (S.NEEDS_REVIEW, "review_needs_review"): S.NEEDS_REVIEW,
}


def signal_for(event_type: str) -> StripeSessionSignal:
    if not event_type.startswith(EVENT_PREFIX):
        raise InvalidArgument(f"{event_type!r} is not a Stripe Identity session event", field="event_type")
    try:
        return StripeSessionSignal(event_type[len(EVENT_PREFIX) :])
    except ValueError:
        raise InvalidArgument(f"unknown Stripe Identity event {event_type!r}", field="event_type") from None


def require_notes(notes: str) -> str:
    text = (notes or "").strip()
    if not text:
        raise InvalidArgument("a reviewer's notes are required", field="notes")
    if len(text) > MAX_NOTES_LENGTH:
        raise InvalidArgument(f"notes are longer than {MAX_NOTES_LENGTH} characters", field="notes")
    return text


@dataclass(frozen=True)
class ReviewNote:
    at: datetime
    reviewer_id: str
    decision: str
    text: str


@dataclass(frozen=True, kw_only=True)
class KycStatusChanged(DomainEvent):
    user_id: UUID
    status: str
    cause: str  # the transition's action: "stripe_verified", "review_reject", ...


class EventVerdict(StrEnum):
    APPLIED = "applied"  # the case moved (or stayed, by a row of the table)
    STALE = "stale"  # older than what was applied already for this session
    OTHER_SESSION = "other_session"  # a session the case has since replaced
    NO_TRANSITION = "no_transition"  # the table has no row for it from here: recorded, nothing moves


@dataclass(eq=False)
class KycCase(Aggregate):
    user_id: UUID
    status: KycStatus
    updated_at: datetime
    verification_session_id: str | None = None
    attempts: int = 0  # sessions opened; part of the Stripe idempotency key
    last_event_at: datetime | None = None  # Stripe `created` of the newest event applied for the current session
    last_event_rank: int = -1
    last_error_code: str = ""
    notes: list[ReviewNote] = field(default_factory=list)
    version: int = 0
    _events: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._events = []

    @property
    def aggregate_id(self) -> str:
        return str(self.user_id)

    @classmethod
    def new(cls, user_id: UUID, at: datetime) -> KycCase:
        return cls(user_id=user_id, status=KycStatus.NOT_STARTED, updated_at=at)

    def can(self, action: str) -> bool:
        return (self.status, action) in TRANSITIONS

    def _move(self, action: str, at: datetime) -> KycStatus:
        target = TRANSITIONS.get((self.status, action))
        if target is None:
            raise InvalidTransition("KYC case", self.status.value, action)
        before = self.status
        self.status = target
        self._record_event(KycStatusChanged(occurred_at=at, user_id=self.user_id, status=target.value, cause=action))
        self._touch(at)
        return before

    def next_attempt(self) -> int:
        """The number the next session will carry (its Stripe idempotency key), checked against the table first."""
        if not self.can("open"):
            raise InvalidTransition("KYC case", self.status.value, "open")
        return self.attempts + 1

    def open_session(self, verification_session_id: str, attempt: int, at: datetime) -> None:
        self._move("open", at)
        self.verification_session_id = verification_session_id
        self.attempts = attempt
        self.last_event_at = None
        self.last_event_rank = -1
        self.last_error_code = ""

    def apply_stripe_event(
        self,
        verification_session_id: str,
        signal: StripeSessionSignal,
        created_at: datetime,
        error_code: str,
        at: datetime,
    ) -> EventVerdict:
        if verification_session_id != self.verification_session_id:
            return EventVerdict.OTHER_SESSION
        rank = SIGNAL_RANK[signal]
        if self.last_event_at is not None and (created_at, rank) <= (self.last_event_at, self.last_event_rank):
            return EventVerdict.STALE
        self.last_event_at = created_at
        self.last_event_rank = rank
        action = SIGNAL_ACTION[signal]
        if signal is StripeSessionSignal.REQUIRES_INPUT:
            self.last_error_code = error_code
        if action is None:
            self._touch(at)
            return EventVerdict.APPLIED
        if not self.can(action):
            self._touch(at)
            return EventVerdict.NO_TRANSITION
        self._move(action, at)
        return EventVerdict.APPLIED

    def review(self, decision: ReviewDecision, reviewer_id: str, notes: str, at: datetime) -> KycStatus:
        text = require_notes(notes)
        before = self._move(decision.value, at)
        self.notes.append(ReviewNote(at=at, reviewer_id=reviewer_id, decision=decision.value, text=text))
        return before

    def accepts_documents(self) -> bool:
        """A reviewer asked for more (or Stripe could not decide): only then does the user send documents."""
        return self.status is KycStatus.NEEDS_REVIEW

    def _touch(self, at: datetime) -> None:
        self.updated_at = at
        self.version += 1

    def summary(self) -> dict:
        return {
            "status": self.status.value,
            "verification_session_id": self.verification_session_id,
            "last_error_code": self.last_error_code,
        }
