"""The funded-trader agreement (ADR 0046): fingerprinted by the SHA-256 of its exact text; only the current version,
with that exact text, is accepted and counts toward funding."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from libs.domain.errors import FailedPrecondition, InvalidArgument
from services.challenges.domain.funded_agreement import AgreementAcceptance, FundedAgreement

TEXT = "# Agreement\n\nThe trader agrees.\n"
AGREEMENT = FundedAgreement.publish("2026-11", TEXT)


def acceptance(version: str, sha256: str) -> AgreementAcceptance:
    return AgreementAcceptance(uuid4(), "user-1", version, sha256, datetime(2026, 11, 25, tzinfo=UTC), "203.0.113.7")


def test_the_fingerprint_is_the_sha256_of_the_texts_utf8_bytes():
    assert AGREEMENT.sha256 == hashlib.sha256(TEXT.encode("utf-8")).hexdigest()
    assert FundedAgreement.publish("2026-11", TEXT + " ").sha256 != AGREEMENT.sha256


@pytest.mark.parametrize(("version", "text"), [("", TEXT), ("x" * 33, TEXT), ("2026-11", "  \n")])
def test_an_unnamed_overlong_or_empty_agreement_cannot_be_published(version, text):
    with pytest.raises(ValueError):
        FundedAgreement.publish(version, text)


def test_the_current_version_is_accepted_with_or_without_its_fingerprint_in_any_case():
    AGREEMENT.check_shown("2026-11", None)
    AGREEMENT.check_shown("2026-11", AGREEMENT.sha256.upper())


@pytest.mark.parametrize(("version", "sha256"), [("2025-01", None), ("2026-11", "0" * 64)])
def test_a_stale_version_or_another_text_is_refused_naming_the_current_one(version, sha256):
    with pytest.raises(FailedPrecondition) as refused:
        AGREEMENT.check_shown(version, sha256)
    assert refused.value.reason == "AGREEMENT_VERSION_NOT_CURRENT"
    assert refused.value.metadata == {"current_version": "2026-11", "current_sha256": AGREEMENT.sha256}


def test_no_version_is_a_bad_request():
    with pytest.raises(InvalidArgument) as refused:
        AGREEMENT.check_shown("", None)
    assert refused.value.metadata["field"] == "agreement_version"


def test_only_an_acceptance_of_the_current_version_and_its_exact_text_counts():
    assert acceptance("2026-11", AGREEMENT.sha256).covers(AGREEMENT)
    assert not acceptance("2025-01", AGREEMENT.sha256).covers(AGREEMENT)
    edited = FundedAgreement.publish("2026-11", TEXT + "\nA new clause.\n")
    assert not acceptance("2026-11", AGREEMENT.sha256).covers(edited)
