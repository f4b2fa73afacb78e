"""Query with a side effect: the account's trader reads their trading-platform login and password
(GET /v1/accounts/{id}/credentials, ADR 0045).

Only the trader who owns the account may reveal it; anyone else (another trader, and staff, who never read a
trader's password) is told the account does not exist or is refused. The first reveal is recorded (when, client IP)
and audited in the same transaction; the audit entry names the platform login, never the password. The same trader
may reveal it again within a short window (`reveal_window`): a browser that lost the response after our commit
would otherwise leave the trader locked out with only the platform's reset. Each repeat is audited too. After the
window the sealed password is erased: by the sweep, or here when a late reveal finds it still stored (the refusal
is committed with the erasure). A zero window erases it in the first reveal's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from services.challenges.application.actor import Caller, require_role
from services.challenges.application.erase_platform_credentials import erasure_audit
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.ports import CredentialsUnitOfWork, SecretSealer
from services.challenges.domain.account import AccountStatus
from services.challenges.domain.platform_credentials import (
    REVEALED,
    CredentialsGone,
    CredentialsNotReady,
    sealing_context,
)


@dataclass(frozen=True)
class RevealPlatformCredentials:
    caller: Caller
    account_id: str


@dataclass(frozen=True)
class RevealedCredentials:
    account_id: str
    login: str
    password: str
    revealed_at: datetime  # the first reveal
    repeat: bool  # True within the window after the first reveal


class RevealPlatformCredentialsHandler:
    def __init__(
        self,
        uow: Callable[[], CredentialsUnitOfWork],
        sealer: SecretSealer,
        clock: Clock,
        *,
        reveal_window: timedelta,
    ) -> None:
        self._uow = uow
        self._sealer = sealer
        self._clock = clock
        self._window = reveal_window

    async def __call__(self, query: RevealPlatformCredentials) -> RevealedCredentials:
        # The trader's own secret: support and admin are refused outright, whatever the account.
        require_role(query.caller, "trader", action="reveal trading-platform credentials")
        account_id = parse_account_id(query.account_id)
        refusal: CredentialsGone | None = None
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id)
            if account is None or account.user_id != query.caller.actor_id:
                raise AccountNotFound(query.account_id)
            stored = await uow.platform_credentials.get(account_id, for_update=True)
            if stored is None:
                if account.status in (AccountStatus.PENDING_PAYMENT, AccountStatus.PROVISIONING):
                    raise CredentialsNotReady(account_id)
                # Provisioned before passwords were sealed (it was mailed then): nothing is kept to reveal.
                raise CredentialsGone(account_id, revealed_at=None, erased_at=None)
            now = self._clock.now()
            if not stored.erased and stored.window_closed(now, self._window):
                stored.erase(now, REVEALED)  # the sweep had not got to it yet
                await uow.platform_credentials.save(stored)
                caller = query.caller
                await uow.audit.append(
                    erasure_audit(stored, now, actor_id=caller.actor_id, actor_role=caller.role, ip=caller.ip)
                )
                await uow.commit()
                refusal = stored.gone()
            else:
                repeat = stored.reveal(now, query.caller.ip, self._window)  # raises CredentialsGone once erased
                # Opened before anything is written: a key or ciphertext problem changes nothing and is retried.
                # In a thread: with KMS, opening is a blocking network call on the service's shared event loop.
                password = await asyncio.to_thread(
                    self._sealer.open, stored.password_sealed, context=sealing_context(account_id)
                )
                if self._window <= timedelta(0):
                    stored.erase(now, REVEALED)
                await uow.platform_credentials.save(stored)
                await uow.audit.append(
                    AuditEntry(
                        occurred_at=now,
                        actor_id=query.caller.actor_id,
                        actor_role=query.caller.role,
                        ip=query.caller.ip,
                        action="account.platform_credentials_revealed",
                        subject_type="account",
                        subject_id=str(account_id),
                        before={"revealed_at": None if not repeat else stored.revealed_at.isoformat()},
                        after={
                            "platform_login": stored.login,
                            "revealed_at": stored.revealed_at.isoformat(),
                            "repeat": repeat,
                            "reveal_count": stored.reveal_count,
                            "erased": stored.erased,
                        },
                    )
                )
                await uow.commit()
        if refusal is not None:
            raise refusal
        return RevealedCredentials(
            account_id=str(account_id),
            login=stored.login,
            password=password,
            revealed_at=stored.revealed_at,
            repeat=repeat,
        )
