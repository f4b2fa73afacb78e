"""The funded-trader agreement a passed trader accepts before funding (ADR 0046).

One version is current at a time: the text the firm publishes, named by a version and fingerprinted by the SHA-256
of its exact bytes. An acceptance records the version and the fingerprint the trader was shown; funding counts only
an acceptance of the current version whose fingerprint still matches, so an edited text under an unchanged version
name is never taken as accepted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from libs.domain.errors import FailedPrecondition, InvalidArgument

MAX_VERSION_LENGTH = 32  # the column's width (migration 0007)


@dataclass(frozen=True)
class FundedAgreement:
    version: str
    text: str
    sha256: str

    @classmethod
    def publish(cls, version: str, text: str) -> FundedAgreement:
        version = version.strip()
        if not version or len(version) > MAX_VERSION_LENGTH:
            raise ValueError(f"the agreement version must be 1 to {MAX_VERSION_LENGTH} characters")
        if not text.strip():
            raise ValueError("the agreement text is empty")
        return cls(version=version, text=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())

    def check_shown(self, version: str, sha256: str | None) -> None:
        """Refuse an acceptance of anything but this exact text: an old version (the trader's page was stale) or a
        fingerprint that does not match names the current version so the client can show it again."""
        if not version:
            raise InvalidArgument(
                "agreement_version is required: the version the trader was shown", field="agreement_version"
            )
        if version != self.version or (sha256 and sha256.lower() != self.sha256):
            raise FailedPrecondition(
                f"the current funded-trader agreement is version {self.version}; show it and accept that one",
                reason="AGREEMENT_VERSION_NOT_CURRENT",
                current_version=self.version,
                current_sha256=self.sha256,
            )


@dataclass(frozen=True)
class AgreementAcceptance:
    account_id: UUID
    user_id: str
    version: str
    sha256: str
    accepted_at: datetime
    ip: str | None

    def covers(self, agreement: FundedAgreement) -> bool:
        return self.version == agreement.version and self.sha256 == agreement.sha256
