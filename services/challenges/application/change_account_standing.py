"""Command: an admin suspends or reinstates an account. Idempotent by request id; audited with before and after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument
from libs.domain.fingerprint import fingerprint
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.idempotency_key import require_idempotency_key
from services.challenges.application.ports import ChallengesUnitOfWork
from services.challenges.domain.account import TradingAccount


@dataclass(frozen=True)
class ChangeAccountStanding:
    caller: Caller
    request_id: str
    account_id: str
    action: Literal["suspend", "reinstate"]
    reason: str


class ChangeAccountStandingHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, cmd: ChangeAccountStanding) -> TradingAccount:
        require_role(cmd.caller, "admin", action=f"{cmd.action} accounts")
        require_idempotency_key(cmd.request_id)
        account_id = parse_account_id(cmd.account_id)
        reason = cmd.reason.strip()
        if not reason or len(reason) > 500:
            raise InvalidArgument("a reason of 1 to 500 characters is required", field="reason")
        operation = f"Account.{cmd.action}"
        params = fingerprint({"account_id": str(account_id), "reason": reason})
        async with self._uow() as uow:
            remembered = await uow.idempotency.recall(cmd.request_id, operation, params)
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None:
                raise AccountNotFound(cmd.account_id)
            if remembered is not None:
                return account
            now = self._clock.now()
            before = account.status.value
            if cmd.action == "suspend":
                account.suspend(reason, now)
            else:
                account.reinstate(reason, now)
            await uow.accounts.save(account)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action=f"account.{cmd.action}ed" if cmd.action == "suspend" else "account.reinstated",
                    subject_type="account",
                    subject_id=str(account_id),
                    before={"status": before},
                    after={"status": account.status.value, "reason": reason},
                )
            )
            await uow.idempotency.remember(cmd.request_id, operation, params, {"status": account.status.value})
            await uow.commit()
        return account
