"""Job: create paid accounts on the trading platform, outside any database transaction.

A paid order commits its account (status provisioning) together with a job row. This worker claims due jobs under
a lease (its own short transaction), calls YourPropFirm with idempotency keys derived from the account id, seals the
platform password (envelope encryption, ADR 0045), emails that the account is ready (the platform login and a link to
reveal the password in our app, never the password itself), then in a second transaction records the platform
account, stores the sealed password and moves the account to phase_1. The trader reveals the password once, signed
in (reveal_platform_credentials.py); the sweep erases it after the reveal or the retention period.

Crash windows (nothing made twice, nothing lost):
- before or during the platform call: the job is due again after its lease; the retry sends the same idempotency
  keys and gets the same platform account back, password included (the platform replays its first answer);
- after the platform call, before the commit (including after the email): nothing of ours was stored; the retry
  gets the same answer, seals it again and commits it; the "ready" email may go out twice (at least once, never
  zero times), which is harmless now that it carries no secret;
- the commit itself: the sealed password and the account's activation are one transaction, so an account is never
  active without its password kept, and a password is never kept for an account that is not active. A row already
  there is never overwritten (the first sealed value stays).
The one dependency left is the platform's idempotency retention: a job retried after the platform forgot its key
would open a second platform account (as before this change; ADR 0050).

Throughput (docs/performance.md, purchases): `run` keeps up to `concurrency` jobs in flight and claims more as soon
as one finishes or a payment wakes it, so a new account never waits for the slowest job of an earlier batch. Wake-ups
come from the paying transaction (in process, and through PostgreSQL NOTIFY when the worker runs as its own
process); the poll is only the fallback for retries and missed notifications.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from libs.domain.audit import AuditEntry
from libs.domain.clock import Clock
from libs.domain.money import Money
from libs.domain.rule_set import parse_rule_set
from services.challenges.application.ports import (
    CredentialsUnitOfWork,
    Mailer,
    Notifier,
    SecretSealer,
    TradingPlatform,
)
from services.challenges.domain.account import AccountStatus, PlatformAccount, TradingAccount
from services.challenges.domain.platform_credentials import SealedPlatformCredentials, sealing_context

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


def platform_idempotency_prefix(account: TradingAccount) -> str:
    return f"account:{account.account_id}"


class ProvisionAccountsWorker:
    def __init__(
        self,
        uow: Callable[[], CredentialsUnitOfWork],
        platform: TradingPlatform,
        mailer: Mailer,
        notifier: Notifier,
        clock: Clock,
        *,
        sealer: SecretSealer,
        reveal_url: Callable[[UUID], str],
        retention: timedelta,
        batch_size: int = 20,
        poll_seconds: float = 0.5,
        concurrency: int = 8,
    ) -> None:
        self._uow = uow
        self._platform = platform
        self._mailer = mailer
        self._notifier = notifier
        self._clock = clock
        self._sealer = sealer
        self._reveal_url = reveal_url
        self._retention = retention
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()
        self._more_due = False

    def wake(self, _account_id: UUID | None = None) -> None:
        """Called after a payment commits, so the account does not wait for the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Provision (and reset on the platform) what is due now; returns how many jobs completed."""
        async with self._uow() as uow:
            claimed = await uow.provisioning.claim_due(self._clock.now(), LEASE, self._batch_size)
            resets = await uow.platform_resets.claim_due(self._clock.now(), LEASE, self._batch_size)
            await uow.commit()
        results = await asyncio.gather(
            *(self._provision_one(account_id) for account_id in claimed),
            *(self._reset_one(order_id) for order_id in resets),
        )
        return sum(1 for done in results if done)

    async def _reset_one(self, order_id: UUID) -> bool:
        """Apply a queued reset on the platform (the account's new attempt, or new size, is already in our records)."""
        async with self._slots:
            try:
                async with self._uow() as uow:
                    account_id = await uow.platform_resets.account_of(order_id)
                    starting_balance = await uow.platform_resets.starting_balance_of(order_id)
                    account = await uow.accounts.get(account_id) if account_id else None
                if account is None or account.platform is None:
                    raise RuntimeError(f"reset order {order_id} has no provisioned account")
                if starting_balance is None and account.scale_steps and account.account_size is not None:
                    # A scaled account's platform start may still be a step's size: a reset or retry starts over
                    # at the size our records hold now (the bought one), not at the platform's last start.
                    starting_balance = account.account_size.amount
                attempt = await self._platform.reset_account(
                    account.platform.account_id,
                    # Only a scaling step carries a new balance; the row does not say which other reset it is.
                    reason="paid reset" if starting_balance is None else f"scaling to {starting_balance:f}",
                    idempotency_key=f"order:{order_id}:platform-reset",
                    starting_balance=starting_balance,
                )
                async with self._uow() as uow:
                    await uow.platform_resets.complete(order_id, self._clock.now())
                    await uow.commit()
            except Exception as exc:  # retried later under the same key: the platform resets once
                log.warning("platform reset for order %s failed, will retry: %s", order_id, exc)
                async with self._uow() as uow:
                    await uow.platform_resets.retry_later(order_id, self._clock.now(), str(exc) or type(exc).__name__)
                    await uow.commit()
                return False
        try:
            await self._notifier.notify_user(
                account.user_id,
                {"type": "account.reset", "account_id": str(account.account_id), "platform_attempt": attempt},
            )
        except Exception as exc:
            log.warning("could not publish the reset notice for %s: %s", account.account_id, exc)
        return True

    async def _provision_one(self, account_id: UUID, claimed: TradingAccount | None = None) -> bool:
        async with self._slots:
            try:
                return await self._provision(account_id, claimed)
            except Exception as exc:  # one failing account must not stop the others; the job is retried later
                log.warning("provisioning of account %s failed, will retry: %s", account_id, exc)
                async with self._uow() as uow:
                    await uow.provisioning.retry_later(account_id, self._clock.now(), str(exc) or type(exc).__name__)
                    await uow.commit()
                return False

    async def _provision(self, account_id: UUID, claimed: TradingAccount | None = None) -> bool:
        account = claimed
        if account is None:
            async with self._uow() as uow:
                account = await uow.accounts.get(account_id)
        if account is None or account.status is not AccountStatus.PROVISIONING:
            await self._complete(account_id)  # already done by another worker, or closed before it was provisioned
            return False
        size = Money.of(parse_rule_set(dict(account.rule_set_for("phase_1"))).start_balance)
        credentials = await self._platform.open_account(
            account_id=account.account_id,
            order_id=account.order_id,
            email=account.user_email,
            program_id=account.program_id,
            account_size=size,
            idempotency_prefix=platform_idempotency_prefix(account),
        )
        # Sealed before anything else, so only the sealed form goes on. In a thread: with KMS, sealing is a blocking
        # network call, and the other jobs in flight share this event loop.
        sealed = await asyncio.to_thread(
            self._sealer.seal, credentials.password, context=sealing_context(account.account_id)
        )
        await self._mailer.send(
            account.user_email,
            "Your Dynasty Futures trading account",
            _email(account, credentials.login, self._reveal_url(account.account_id), self._retention),
        )
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.accounts.get(account_id, for_update=True)
            if account is None or account.status is not AccountStatus.PROVISIONING:
                await uow.provisioning.complete(account_id, now)
                await uow.commit()
                return False
            account.provisioned(PlatformAccount(credentials.user_id, credentials.account_id, credentials.login), now)
            await uow.accounts.save(account)
            await uow.platform_credentials.add(
                SealedPlatformCredentials(
                    account_id=account_id,
                    user_id=account.user_id,
                    login=credentials.login,
                    password_sealed=sealed,
                    sealed_at=now,
                )
            )
            await uow.provisioning.complete(account_id, now)
            await uow.audit.append(
                AuditEntry(
                    occurred_at=now,
                    actor_id="provisioning",
                    actor_role="system",
                    ip=None,
                    action="account.provisioned",
                    subject_type="account",
                    subject_id=str(account_id),
                    before={"status": AccountStatus.PROVISIONING.value},
                    after={"status": account.status.value, "platform_account_id": credentials.account_id},
                )
            )
            await uow.commit()
        try:
            await self._notifier.notify_user(
                account.user_id,
                {"type": "account.activated", "account_id": str(account_id), "status": account.status.value},
            )
        except Exception as exc:  # a live notice is a courtesy; the account and the email already exist
            log.warning("could not publish the activation notice for %s: %s", account_id, exc)
        return True

    async def _complete(self, account_id: UUID) -> None:
        async with self._uow() as uow:
            await uow.provisioning.complete(account_id, self._clock.now())
            await uow.commit()

    async def _claim(self, capacity: int) -> list[tuple[str, UUID, TradingAccount | None]]:
        """Lease up to `capacity` due jobs, accounts to provision first (a trader is waiting for each), and read
        those accounts in the same short transaction (one round of transactions fewer per account)."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed: list[tuple[str, UUID, TradingAccount | None]] = [
                ("provision", a, await uow.accounts.get(a))
                for a in await uow.provisioning.claim_due(now, LEASE, capacity)
            ]
            if len(claimed) < capacity:
                resets = await uow.platform_resets.claim_due(now, LEASE, capacity - len(claimed))
                claimed += [("reset", o, None) for o in resets]
            await uow.commit()
        return claimed

    def _start(self, kind: str, job_id: UUID, account: TradingAccount | None) -> None:
        job = self._provision_one(job_id, account) if kind == "provision" else self._reset_one(job_id)
        task = asyncio.create_task(job)
        self._in_flight.add(task)

        def finished(done: asyncio.Task) -> None:
            self._in_flight.discard(done)
            if self._more_due:
                self._wake.set()  # a slot is free and the last claim was full: claim again at once

        task.add_done_callback(finished)

    async def run(self) -> None:
        """Keep up to `concurrency` jobs in flight; claim whenever a slot frees or a payment wakes us, else poll."""
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                capacity = self._concurrency - len(self._in_flight)
                claimed: list[tuple[str, UUID, TradingAccount | None]] = []
                if capacity > 0:
                    try:
                        claimed = await self._claim(capacity)
                    except Exception:  # the worker must outlive a database blip
                        log.exception("claiming provisioning jobs failed")
                    for kind, job_id, account in claimed:
                        self._start(kind, job_id, account)
                    # A full claim may have left jobs due: claim again when a slot frees. A short one drained the
                    # queue: only a new payment (wake) or the poll brings more, so finishing jobs stay quiet.
                    self._more_due = len(claimed) == capacity
                else:
                    self._more_due = True  # woken while every slot was busy: serve it when one frees
                if len(claimed) == capacity > 0:
                    continue  # full claim: slots are taken now, the loop re-checks
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    pass
        finally:
            # Let jobs in flight finish (each is short and bounded by the platform client's timeouts): a job cut
            # off here would only be retried after its lease, with the trader waiting a minute more.
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()


def _email(account: TradingAccount, login: str, reveal_url: str, retention: timedelta) -> str:
    # No password here: mail is not a safe channel for a secret that controls a trading account (ADR 0045).
    days = retention / timedelta(days=1)
    return (
        "Your challenge is live.\n\n"
        f"Program: {account.program_id} (version {account.program_version})\n"
        f"Account: {account.account_id}\n"
        f"Platform login: {login}\n\n"
        "Your platform password is kept sealed for you. Sign in to Dynasty Futures and reveal it here (it is shown\n"
        f"once, and erased if not revealed within {days:g} days):\n"
        f"{reveal_url}\n\n"
        "Then sign in to the trading platform and change the password on first use. Dynasty Futures staff will\n"
        "never ask you for it.\n"
    )
