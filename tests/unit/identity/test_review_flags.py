"""The review flag's rules, without I/O: cleared once, by a person, with a reason; later facts add to the evidence
without closing it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.domain.errors import FailedPrecondition, InvalidArgument
from services.identity.domain.review_flags import ReviewFlag, ReviewFlagReason, ReviewFlagStatus

AT = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def flag() -> ReviewFlag:
    return ReviewFlag.for_chargeback(
        flag_id=uuid.uuid4(), user_id=uuid.uuid4(), dispute_id="dp_1", evidence={"amount": "549.00"}, at=AT
    )


def test_a_chargeback_flag_is_open_and_names_the_dispute():
    raised = flag()
    assert raised.is_open and raised.reason is ReviewFlagReason.CHARGEBACK
    assert (raised.source, raised.source_ref) == ("challenges", "dp_1")


def test_clearing_needs_a_reason_and_happens_once():
    raised = flag()
    with pytest.raises(InvalidArgument):
        raised.clear(by="support-1", reason="   ", at=AT)
    assert raised.is_open and raised.version == 0
    raised.clear(by="support-1", reason=" looked into it ", at=AT + timedelta(hours=1))
    assert raised.status is ReviewFlagStatus.CLEARED
    assert (raised.cleared_by, raised.clear_reason, raised.version) == ("support-1", "looked into it", 1)
    with pytest.raises(FailedPrecondition) as refused:
        raised.clear(by="support-2", reason="again", at=AT + timedelta(hours=2))
    assert refused.value.reason == "REVIEW_FLAG_ALREADY_CLEARED"
    assert raised.cleared_by == "support-1"


def test_later_facts_extend_the_evidence_but_do_not_clear_the_flag():
    raised = flag()
    assert raised.add_evidence({"dispute_status": "won"})
    assert raised.is_open and raised.evidence == {"amount": "549.00", "dispute_status": "won"}
    assert not raised.add_evidence({"dispute_status": "won"})  # the same fact again changes nothing
    assert raised.version == 1
