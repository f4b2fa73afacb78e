"""Query: the funded-trader agreement in force (version, SHA-256 and text), shown to a trader before they accept."""

from __future__ import annotations

from dataclasses import dataclass

from services.challenges.application.actor import Caller, require_role
from services.challenges.domain.funded_agreement import FundedAgreement


@dataclass(frozen=True)
class GetFundedAgreement:
    caller: Caller


class GetFundedAgreementHandler:
    def __init__(self, agreement: FundedAgreement) -> None:
        self._agreement = agreement

    async def __call__(self, query: GetFundedAgreement) -> FundedAgreement:
        require_role(query.caller, "trader", "support", "admin", action="read the funded-trader agreement")
        return self._agreement
