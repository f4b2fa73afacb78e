"""Command: a passed account becomes funded (POST /v1/accounts/{id}/fund for its trader,
POST /v1/admin/accounts/{id}/fund for an admin; ADR 0046).

Funding needs the program's funded stage, the trader's KYC approved (identity's answer over gRPC, asked with the
caller's own token) and the current funded-trader agreement accepted for this account. The domain judges them
(`TradingAccount.fund`) and refuses, naming what is missing (NO_FUNDED_STAGE, KYC_NOT_APPROVED,
AGREEMENT_NOT_ACCEPTED) or the current state for an account that is not passed; a refusal changes nothing.

On success, in one transaction: the account moves to funded with a new attempt under the funded rule set;
AccountActivated (the funded phase and its rule set) goes to the rules service through the outbox, as a phase change
does; the platform account is queued for a reset to the funded balance (the paid-reset queue, keyed by a funding id
derived from the account, so it can only ever be queued once); the change is audited. Then the worker is woken and
the trader notified.

Idempotent twice over: a replay under the same Idempotency-Key answers the first result, and any later attempt on a
funded account answers "already funded" without a second attempt, reset or audit record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid5

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from libs.domain.fingerprint import fingerprint
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.idempotency_key import MAX_IDEMPOTENCY_KEY
from services.challenges.application.ports import FundingUnitOfWork, KycDirectory, KycUnavailable, Notifier
from services.challenges.domain.account import AccountStatus, FundingEligibility, TradingAccount
from services.challenges.domain.funded_agreement import FundedAgreement

log = logging.getLogger(__name__)
OPERATION = "FundAccount"
_FUNDING_NAMESPACE = UUID("0b7d3c64-9a51-4f0e-8c2e-46a1d95f7e03")


def funding_id_for(account_id: UUID) -> UUID:
    """An account is funded at most once (only from passed), so its funding, and the platform reset that goes with
    it, is keyed by the account alone."""
    return uuid5(_FUNDING_NAMESPACE, str(account_id))


@dataclass(frozen=True)
class FundAccount:
    caller: Caller
    account_id: str
    request_id: str = ""  # the Idempotency-Key; optional, funding is idempotent by nature too
    reason: str = ""  # an admin's reason, kept in the audit record


@dataclass(frozen=True)
class AccountFunded:
    account: TradingAccount
    funding_id: UUID
    already_funded: bool


class FundAccountHandler:
    def __init__(
        self,
        uow: Callable[[], FundingUnitOfWork],
        clock: Clock,
        kyc: KycDirectory,
        agreement: FundedAgreement,
        notifier: Notifier,
        on_reset: Callable[[UUID], None] = lambda _id: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._kyc = kyc
        self._agreement = agreement
        self._notifier = notifier
        self._on_reset = on_reset  # wakes the worker that resets the platform account

    async def __call__(self, cmd: FundAccount) -> AccountFunded:
        require_role(cmd.caller, "trader", "admin", action="fund accounts")
        if len(cmd.request_id) > MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument("an idempotency key is at most 255 characters", field="request_id")
        reason = cmd.reason.strip()
        if cmd.caller.role == "admin" and (not reason or len(reason) > 500):
            raise InvalidArgument("an admin funding needs a reason of 1 to 500 characters", field="reason")
        account_id = parse_account_id(cmd.account_id)
        funding_id = funding_id_for(account_id)

        # Identity is asked before the account's row is locked, so a slow identity never holds the lock; only a
        # passed account is worth asking about (any other state is refused by the domain, naming it).
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id)
        self._ensure_visible(account, cmd)
        kyc_approved = False
        if account.status is AccountStatus.PASSED:
            try:
                kyc_approved = await self._kyc.kyc_approved(account.user_id, bearer_token=cmd.caller.token)
            except KycUnavailable as exc:
                log.warning("KYC of %s could not be checked for funding: %s", account.user_id, exc)
                raise FailedPrecondition(
                    "the KYC check could not be made just now; nothing changed, try again shortly",
                    reason="KYC_CHECK_UNAVAILABLE",
                ) from None

        operation = f"{OPERATION}:{cmd.caller.actor_id}"
        params = fingerprint({"account_id": str(account_id)})
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id, for_update=True)
            self._ensure_visible(account, cmd)
            if cmd.request_id:
                remembered = await uow.idempotency.recall(cmd.request_id, operation, params)
                if remembered is not None:
                    return AccountFunded(account, funding_id, already_funded=bool(remembered["already_funded"]))
            if account.status is AccountStatus.FUNDED:
                return AccountFunded(account, funding_id, already_funded=True)
            acceptance = await uow.agreements.get(account_id, self._agreement.version)
            eligibility = FundingEligibility(
                kyc_approved=kyc_approved,
                agreement_accepted=acceptance is not None and acceptance.covers(self._agreement),
            )
            before = {"status": account.status.value}
            now = self._clock.now()
            account.fund(eligibility, now)
            await uow.accounts.save(account)
            await uow.platform_resets.enqueue(funding_id, account.account_id)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action="account.funded",
                    subject_type="account",
                    subject_id=str(account.account_id),
                    before=before,
                    after={
                        "status": account.status.value,
                        "attempt": account.current_attempt.number if account.current_attempt else 0,
                        "kyc_approved": True,
                        "agreement_version": self._agreement.version,
                        "agreement_sha256": self._agreement.sha256,
                        "funding_id": str(funding_id),
                        "reason": reason or None,
                    },
                )
            )
            if cmd.request_id:
                await uow.idempotency.remember(cmd.request_id, operation, params, {"already_funded": False})
            await uow.commit()
        self._on_reset(account.account_id)
        await self._notify(account)
        return AccountFunded(account, funding_id, already_funded=False)

    @staticmethod
    def _ensure_visible(account: TradingAccount | None, cmd: FundAccount) -> None:
        # A trader funds only their own account; anyone else's is "not found", as everywhere (no enumeration).
        if account is None or (cmd.caller.role == "trader" and account.user_id != cmd.caller.actor_id):
            raise AccountNotFound(cmd.account_id)

    async def _notify(self, account: TradingAccount) -> None:
        # Best effort, after the commit: the account is funded whether or not a session is open to hear it.
        try:
            await self._notifier.notify_user(
                account.user_id,
                {
                    "type": "account.funded",
                    "account_id": str(account.account_id),
                    "attempt": account.current_attempt.number if account.current_attempt else 0,
                },
            )
        except Exception as exc:
            log.warning("could not publish the funded notice for %s: %s", account.account_id, exc)
