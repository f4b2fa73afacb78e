"""Command: a trader uses a free retry their program included (POST /v1/accounts/{id}/retry).

The new attempt is the one a paid reset starts (ADR 0054): phase 1 afresh, the failed attempt kept, AccountActivated
to the rules service through the outbox, and the platform reset queued in the same transaction, keyed by the
retry's id (derived from the caller's idempotency key, as a reset order's id is). Only a failed account (not for
fraud) with a retry left may use one; anything else is refused, naming why, and changes nothing. A replayed request
answers what the first did and consumes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid5

from libs.domain.clock import Clock
from libs.domain.fingerprint import fingerprint
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.idempotency_key import require_idempotency_key
from services.challenges.application.ports import ChallengesUnitOfWork
from services.challenges.domain.account import TradingAccount

OPERATION = "UseFreeRetry"
_RETRY_NAMESPACE = UUID("5b0c8a52-3f0e-4f4e-9d53-2a6f1e0c7d11")


def retry_id_for(user_id: str, request_id: str) -> UUID:
    return uuid5(_RETRY_NAMESPACE, f"{user_id}\n{request_id}")


@dataclass(frozen=True)
class UseFreeRetry:
    request_id: str
    account_id: str
    caller: Caller


@dataclass(frozen=True)
class FreeRetryUsed:
    account: TradingAccount
    retry_id: UUID


class UseFreeRetryHandler:
    def __init__(
        self,
        uow: Callable[[], ChallengesUnitOfWork],
        clock: Clock,
        on_reset: Callable[[UUID], None] = lambda _id: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_reset = on_reset  # wakes the worker that resets the platform account

    async def __call__(self, cmd: UseFreeRetry) -> FreeRetryUsed:
        require_role(cmd.caller, "trader", action="use a free retry")
        require_idempotency_key(cmd.request_id)
        account_id = parse_account_id(cmd.account_id)
        operation = f"{OPERATION}:{cmd.caller.actor_id}"
        params = fingerprint({"account_id": str(account_id)})
        retry_id = retry_id_for(cmd.caller.actor_id, cmd.request_id)
        async with self._uow() as uow:
            # The account's lock first: a concurrent replay of the same key waits for the first request and then
            # finds its answer below, instead of being refused because the account is no longer failed.
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None or account.user_id != cmd.caller.actor_id:
                raise AccountNotFound(cmd.account_id)
            remembered = await uow.idempotency.recall(cmd.request_id, operation, params)
            if remembered is not None:
                return FreeRetryUsed(account=account, retry_id=UUID(remembered["retry_id"]))
            before = {"status": account.status.value, "free_retries_left": account.free_retries_left}
            now = self._clock.now()
            account.free_retry(now)
            await uow.accounts.save(account)
            await uow.platform_resets.enqueue(retry_id, account.account_id)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action="account.free_retry",
                    subject_type="account",
                    subject_id=str(account.account_id),
                    before=before,
                    after={
                        "status": account.status.value,
                        "attempt": account.current_attempt.number if account.current_attempt else 0,
                        "free_retries_left": account.free_retries_left,
                        "retry_id": str(retry_id),
                    },
                )
            )
            await uow.idempotency.remember(cmd.request_id, operation, params, {"retry_id": str(retry_id)})
            await uow.commit()
        self._on_reset(account.account_id)
        return FreeRetryUsed(account=account, retry_id=retry_id)
