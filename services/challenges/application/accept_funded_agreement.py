"""Command: a trader accepts the funded-trader agreement for their passed account
(POST /v1/accounts/{id}/funded-agreement, ADR 0046).

The trader names the version they were shown (and may send its SHA-256); only the current version is accepted. The
acceptance is stored with the time, the user and the client address the gateway saw, and audited, in one
transaction. Accepting the same version again answers the first acceptance and writes nothing (idempotent by
nature: the key is the account and the version). Only the owner of a passed account may accept; anyone else is told
the account does not exist, and an account in any other state is refused with its state named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import InvalidTransition
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.ports import FundingUnitOfWork
from services.challenges.domain.account import AccountStatus
from services.challenges.domain.funded_agreement import AgreementAcceptance, FundedAgreement


@dataclass(frozen=True)
class AcceptFundedAgreement:
    caller: Caller
    account_id: str
    agreement_version: str
    agreement_sha256: str | None = None


@dataclass(frozen=True)
class AgreementAccepted:
    acceptance: AgreementAcceptance
    already_accepted: bool


class AcceptFundedAgreementHandler:
    def __init__(self, uow: Callable[[], FundingUnitOfWork], clock: Clock, agreement: FundedAgreement) -> None:
        self._uow = uow
        self._clock = clock
        self._agreement = agreement

    async def __call__(self, cmd: AcceptFundedAgreement) -> AgreementAccepted:
        # The trader's own act: staff cannot accept an agreement on a trader's behalf.
        require_role(cmd.caller, "trader", action="accept the funded-trader agreement")
        account_id = parse_account_id(cmd.account_id)
        self._agreement.check_shown(cmd.agreement_version.strip(), (cmd.agreement_sha256 or "").strip() or None)
        async with self._uow() as uow:
            # The account's lock orders concurrent acceptances: the second finds the first's row below.
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None or account.user_id != cmd.caller.actor_id:
                raise AccountNotFound(cmd.account_id)
            existing = await uow.agreements.get(account_id, self._agreement.version)
            if existing is not None and existing.covers(self._agreement):
                return AgreementAccepted(acceptance=existing, already_accepted=True)
            if account.status is not AccountStatus.PASSED:
                raise InvalidTransition("account", account.status.value, "funded agreement accepted")
            now = self._clock.now()
            acceptance = AgreementAcceptance(
                account_id=account_id,
                user_id=cmd.caller.actor_id,
                version=self._agreement.version,
                sha256=self._agreement.sha256,
                accepted_at=now,
                ip=cmd.caller.ip,
            )
            await uow.agreements.add(acceptance)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action="account.funded_agreement_accepted",
                    subject_type="account",
                    subject_id=str(account_id),
                    before={"agreement_version": existing.version if existing else None},
                    after={"agreement_version": acceptance.version, "agreement_sha256": acceptance.sha256},
                )
            )
            await uow.commit()
        return AgreementAccepted(acceptance=acceptance, already_accepted=False)
