"""SQLAlchemy repositories for orders, Stripe events, trading accounts (with attempts) and provisioning jobs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import ConcurrencyConflict
from libs.domain.ids import ProgramId
from libs.domain.money import Currency, Money
from services.challenges.adapters.sql.tables import (
    account_attempts,
    account_scale_steps,
    orders,
    platform_resets,
    provisioning_jobs,
    stripe_events,
    trading_accounts,
)
from services.challenges.domain.account import (
    AccountStatus,
    Attempt,
    BoughtTerms,
    PhaseSnapshot,
    PlatformAccount,
    ScaleStep,
    TradingAccount,
)
from services.challenges.domain.order import Order, OrderKind, OrderStatus
from services.challenges.domain.scaling import plan_from_json, plan_to_json
from services.challenges.domain.subscription import Billing, Subscription, SubscriptionStatus


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value


def _row_to_order(row) -> Order:
    return Order(
        order_id=row.order_id,
        user_id=row.user_id,
        user_email=row.user_email,
        program_id=ProgramId(row.program_id),
        program_version_id=row.program_version_id,
        program_version=row.program_version,
        price=Money(_cents(row.price), Currency(row.currency)),
        promotion_code=row.promotion_code,
        status=OrderStatus(row.status),
        created_at=row.created_at,
        checkout_session_id=row.checkout_session_id,
        checkout_url=row.checkout_url,
        payment_intent_id=row.payment_intent_id,
        failure_reason=row.failure_reason,
        duplicate_payments=tuple(row.duplicate_payments),
        kind=OrderKind(row.kind),
        reset_account_id=row.reset_account_id,
        billing=row.billing,
        subscription_id=row.subscription_id,
        version=row.row_version,
    )


class SqlAlchemyOrderRepository:
    def __init__(self, session: AsyncSession, track) -> None:
        self._session = session
        self._track = track
        self._loaded: dict[UUID, int] = {}

    async def add(self, order: Order) -> None:
        try:
            await self._insert(order)
        except IntegrityError:
            # The same idempotency key used twice at once: the first request's order is being committed.
            raise ConcurrencyConflict(
                f"order {order.order_id} is being created by a concurrent request with the same key; retry"
            ) from None
        self._loaded[order.order_id] = order.version
        self._track(order)

    async def _insert(self, order: Order) -> None:
        await self._session.execute(
            orders.insert().values(
                order_id=order.order_id,
                user_id=order.user_id,
                user_email=order.user_email,
                program_id=order.program_id,
                program_version_id=order.program_version_id,
                program_version=order.program_version,
                currency=order.price.currency.value,
                price=order.price.amount,
                promotion_code=order.promotion_code,
                status=order.status.value,
                checkout_session_id=order.checkout_session_id,
                checkout_url=order.checkout_url,
                payment_intent_id=order.payment_intent_id,
                failure_reason=order.failure_reason,
                duplicate_payments=list(order.duplicate_payments),
                kind=order.kind.value,
                reset_account_id=order.reset_account_id,
                billing=order.billing,
                subscription_id=order.subscription_id,
                row_version=order.version,
                created_at=order.created_at,
                updated_at=order.created_at,
            )
        )

    async def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None:
        query = select(orders).where(orders.c.order_id == order_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        order = _row_to_order(row)
        self._loaded[order.order_id] = order.version
        self._track(order)
        return order

    async def save(self, order: Order) -> None:
        loaded = self._loaded.get(order.order_id)
        if loaded == order.version:
            return  # unchanged
        result = await self._session.execute(
            update(orders)
            .where(orders.c.order_id == order.order_id, orders.c.row_version == loaded)
            .values(
                status=order.status.value,
                checkout_session_id=order.checkout_session_id,
                checkout_url=order.checkout_url,
                payment_intent_id=order.payment_intent_id,
                failure_reason=order.failure_reason,
                duplicate_payments=list(order.duplicate_payments),
                subscription_id=order.subscription_id,
                row_version=order.version,
                updated_at=func.now(),
            )
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"order {order.order_id} was changed by someone else; retry")
        self._loaded[order.order_id] = order.version

    async def find_by_payment(self, payment_intent_id: str) -> UUID | None:
        row = (
            await self._session.execute(
                select(orders.c.order_id).where(
                    or_(
                        orders.c.payment_intent_id == payment_intent_id,
                        orders.c.duplicate_payments.contains([payment_intent_id]),
                    )
                )
            )
        ).first()
        return row.order_id if row else None


class SqlAlchemyStripeEventStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store_once(self, event_id: str, event_type: str, payload: dict) -> bool:
        """True when the event is new (and now stored), False when Stripe sent it before."""
        result = await self._session.execute(
            insert(stripe_events)
            .values(event_id=event_id, event_type=event_type, payload=payload, outcome="received")
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(stripe_events.c.event_id)
        )
        return result.first() is not None

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        await self._session.execute(
            update(stripe_events).where(stripe_events.c.event_id == event_id).values(outcome=outcome[:64])
        )


def _row_to_subscription(row) -> Subscription | None:
    if row.subscription_id is None:
        return None
    return Subscription(
        subscription_id=row.subscription_id,
        status=SubscriptionStatus(row.subscription_status),
        paid_through=row.paid_through,
        grace_until=row.grace_until,
        cancel_at=row.subscription_cancel_at,
    )


def _subscription_columns(account: TradingAccount) -> dict:
    sub = account.subscription
    return {
        "billing": Billing.MONTHLY.value if sub else Billing.ONE_TIME.value,
        "subscription_id": sub.subscription_id if sub else None,
        "subscription_status": sub.status.value if sub else None,
        "paid_through": sub.paid_through if sub else None,
        "grace_until": sub.grace_until if sub else None,
        "subscription_cancel_at": sub.cancel_at if sub else None,
        "suspension_reason": account.suspended_for,
    }


def _row_to_account(row, attempt_rows) -> TradingAccount:
    platform = None
    if row.platform_account_id:
        platform = PlatformAccount(row.platform_user_id, row.platform_account_id, row.platform_login)
    return TradingAccount(
        account_id=row.account_id,
        order_id=row.order_id,
        user_id=row.user_id,
        user_email=row.user_email,
        program_id=ProgramId(row.program_id),
        program_version_id=row.program_version_id,
        program_version=row.program_version,
        phases=tuple(PhaseSnapshot(p["kind"], p["rule_set"]) for p in row.phases),
        status=AccountStatus(row.status),
        created_at=row.created_at,
        attempts=tuple(
            Attempt(
                number=a.number,
                phase=a.phase,
                started_at=a.started_at,
                ended_at=a.ended_at,
                outcome=a.outcome,
                failed_rule=a.failed_rule,
            )
            for a in sorted(attempt_rows, key=lambda a: a.number)
        ),
        suspended_from=AccountStatus(row.suspended_from) if row.suspended_from else None,
        failed_rule=row.failed_rule,
        platform=platform,
        subscription=_row_to_subscription(row),
        suspended_for=row.suspension_reason,
        version=row.row_version,
    )


def _apply_scaling_columns(account: TradingAccount, row, step_rows) -> None:
    """The retry and scaling terms bought (migration 0006) and where the account stands against them."""
    if row.currency is None or row.bought_account_size is None:
        return  # an account stored without terms: no resets sold, no retries, no scaling
    currency = Currency(row.currency)
    account.terms = BoughtTerms(
        account_size=Money(_cents(row.bought_account_size), currency),
        reset_fee=Money(_cents(row.reset_fee), currency) if row.reset_fee is not None else None,
        free_retries=row.free_retries,
        scaling_plan=plan_from_json(row.scaling_plan),
    )
    account.free_retries_left = row.free_retries_left
    account.account_size = Money(_cents(row.account_size), currency)
    account.payouts_counted = row.payouts_counted
    account.scale_steps = tuple(
        ScaleStep(
            number=s.step,
            from_size=Money(_cents(s.from_size), Currency(s.currency)),
            to_size=Money(_cents(s.to_size), Currency(s.currency)),
            payouts=s.payouts,
            payout_id=s.payout_id,
            at=s.taken_at,
        )
        for s in sorted(step_rows, key=lambda s: s.seq)
    )


def _scaling_columns(account: TradingAccount) -> dict:
    terms = account.terms
    return {
        "currency": terms.account_size.currency.value if terms else None,
        "reset_fee": terms.reset_fee.amount if terms and terms.reset_fee else None,
        "free_retries": terms.free_retries if terms else 0,
        "free_retries_left": account.free_retries_left,
        "scaling_plan": plan_to_json(terms.scaling_plan) if terms else [],
        "bought_account_size": terms.account_size.amount if terms else None,
        "account_size": account.account_size.amount if account.account_size else None,
        "payouts_counted": account.payouts_counted,
    }


class SqlAlchemyAccountRepository:
    def __init__(self, session: AsyncSession, track) -> None:
        self._session = session
        self._track = track
        self._versions: dict[UUID, int] = {}
        self._attempts_seen: dict[UUID, tuple[Attempt, ...]] = {}
        self._steps_seen: dict[UUID, int] = {}

    async def add(self, account: TradingAccount) -> None:
        await self._session.execute(
            trading_accounts.insert().values(
                account_id=account.account_id,
                order_id=account.order_id,
                user_id=account.user_id,
                user_email=account.user_email,
                program_id=account.program_id,
                program_version_id=account.program_version_id,
                program_version=account.program_version,
                phases=[{"kind": p.kind, "rule_set": dict(p.rule_set)} for p in account.phases],
                row_version=account.version,
                created_at=account.created_at,
                updated_at=account.created_at,
                **self._mutable(account),
            )
        )
        await self._save_attempts(account, ())
        await self._save_scale_steps(account)
        self._versions[account.account_id] = account.version
        self._attempts_seen[account.account_id] = account.attempts
        self._track(account)

    @staticmethod
    def _mutable(account: TradingAccount) -> dict:
        platform = account.platform
        return {
            "status": account.status.value,
            "suspended_from": account.suspended_from.value if account.suspended_from else None,
            "failed_rule": account.failed_rule,
            "platform_user_id": platform.user_id if platform else None,
            "platform_account_id": platform.account_id if platform else None,
            "platform_login": platform.login if platform else None,
            **_subscription_columns(account),
            **_scaling_columns(account),
        }

    async def _rows_to_accounts(self, rows) -> list[TradingAccount]:
        ids = [r.account_id for r in rows]
        attempts: dict[UUID, list] = {i: [] for i in ids}
        if ids:
            for a in await self._session.execute(
                select(account_attempts).where(account_attempts.c.account_id.in_(ids))
            ):
                attempts[a.account_id].append(a)
        accounts = [_row_to_account(r, attempts[r.account_id]) for r in rows]
        steps: dict[UUID, list] = {i: [] for i in ids}
        if ids:
            for s in await self._session.execute(
                select(account_scale_steps).where(account_scale_steps.c.account_id.in_(ids))
            ):
                steps[s.account_id].append(s)
        for row, account in zip(rows, accounts, strict=True):
            _apply_scaling_columns(account, row, steps[row.account_id])
            self._steps_seen[account.account_id] = len(account.scale_steps)
        return accounts

    async def _save_scale_steps(self, account: TradingAccount) -> None:
        """Steps are only ever appended: store the ones taken since the account was loaded."""
        seen = self._steps_seen.get(account.account_id, 0)
        new = account.scale_steps[seen:]
        if new:
            await self._session.execute(
                insert(account_scale_steps),
                [
                    {
                        "account_id": account.account_id,
                        "seq": seen + i,
                        "step": s.number,
                        "from_size": s.from_size.amount,
                        "to_size": s.to_size.amount,
                        "currency": s.to_size.currency.value,
                        "payouts": s.payouts,
                        "payout_id": s.payout_id,
                        "taken_at": s.at,
                    }
                    for i, s in enumerate(new, start=1)
                ],
            )
        self._steps_seen[account.account_id] = len(account.scale_steps)

    async def get(self, account_id: UUID, *, for_update: bool = False) -> TradingAccount | None:
        query = select(trading_accounts).where(trading_accounts.c.account_id == account_id)
        if for_update:
            query = query.with_for_update()
        rows = (await self._session.execute(query)).all()
        if not rows:
            return None
        (account,) = await self._rows_to_accounts(rows)
        self._versions[account.account_id] = account.version
        self._attempts_seen[account.account_id] = account.attempts
        self._track(account)
        return account

    async def get_by_order(self, order_id: UUID) -> TradingAccount | None:
        row = (
            await self._session.execute(
                select(trading_accounts.c.account_id).where(trading_accounts.c.order_id == order_id)
            )
        ).first()
        return await self.get(row.account_id, for_update=True) if row else None

    async def save(self, account: TradingAccount) -> None:
        loaded = self._versions.get(account.account_id)
        if loaded == account.version:
            return
        result = await self._session.execute(
            update(trading_accounts)
            .where(trading_accounts.c.account_id == account.account_id, trading_accounts.c.row_version == loaded)
            .values(row_version=account.version, updated_at=func.now(), **self._mutable(account))
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"account {account.account_id} was changed by someone else; retry")
        await self._save_attempts(account, self._attempts_seen.get(account.account_id, ()))
        await self._save_scale_steps(account)
        self._versions[account.account_id] = account.version
        self._attempts_seen[account.account_id] = account.attempts

    async def _save_attempts(self, account: TradingAccount, before: tuple[Attempt, ...]) -> None:
        changed = [a for a in account.attempts if a not in before]
        if not changed:
            return
        statement = insert(account_attempts)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["account_id", "number"],
                set_={
                    "ended_at": statement.excluded.ended_at,
                    "outcome": statement.excluded.outcome,
                    "failed_rule": statement.excluded.failed_rule,
                },
            ),
            [
                {
                    "account_id": account.account_id,
                    "number": a.number,
                    "phase": a.phase,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "outcome": a.outcome,
                    "failed_rule": a.failed_rule,
                }
                for a in changed
            ],
        )

    async def list(
        self,
        *,
        user_id: str | None,
        statuses: tuple[str, ...],
        program_id: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[TradingAccount]:
        t = trading_accounts
        query = select(t)
        if user_id is not None:
            query = query.where(t.c.user_id == user_id)
        if statuses:
            query = query.where(t.c.status.in_(statuses))
        if program_id:
            query = query.where(t.c.program_id == program_id)
        if after is not None:
            created, account_id = after
            query = query.where(
                or_(t.c.created_at < created, and_(t.c.created_at == created, t.c.account_id < account_id))
            )
        query = query.order_by(t.c.created_at.desc(), t.c.account_id.desc()).limit(limit)
        rows = (await self._session.execute(query)).all()
        return await self._rows_to_accounts(rows)


# A job queued in a transaction is announced on this channel; PostgreSQL delivers the NOTIFY only when (and if) the
# transaction commits, so a worker in another process wakes exactly when there is a job it can see.
JOBS_CHANNEL = "challenges_jobs"


async def _announce(session: AsyncSession, queue: str) -> None:
    await session.execute(select(func.pg_notify(JOBS_CHANNEL, queue)))


class _SqlJobQueue:
    """A table of jobs keyed by one id: claimed under a lease, completed, or retried later with backoff."""

    def __init__(self, session: AsyncSession, table, key: str) -> None:
        self._session = session
        self._t = table
        self._key = table.c[key]

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[UUID]:
        """Take due jobs for `lease`; a worker that dies loses its lease and another takes the job again."""
        j = self._t
        due = (
            select(self._key)
            .where(
                j.c.done_at.is_(None),
                j.c.next_attempt_at <= now,
                or_(j.c.lease_until.is_(None), j.c.lease_until < now),
            )
            .order_by(j.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [r[0] for r in await self._session.execute(due)]
        if ids:
            await self._session.execute(
                update(j).where(self._key.in_(ids)).values(lease_until=now + lease, attempts=j.c.attempts + 1)
            )
        return ids

    async def complete(self, job_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(self._t).where(self._key == job_id).values(done_at=now, lease_until=None, last_error=None)
        )

    async def retry_later(self, job_id: UUID, now: datetime, error: str) -> None:
        j = self._t
        attempts = (await self._session.execute(select(j.c.attempts).where(self._key == job_id))).scalar_one()
        backoff = timedelta(seconds=min(300.0, 0.5 * 2 ** min(attempts, 10)))
        await self._session.execute(
            update(j)
            .where(self._key == job_id)
            .values(lease_until=None, next_attempt_at=now + backoff, last_error=error[:2000])
        )


class SqlAlchemyProvisioningJobs(_SqlJobQueue):
    """The queue of accounts to create on the trading platform; one row per account."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, provisioning_jobs, "account_id")

    async def enqueue(self, account_id: UUID) -> None:
        await self._session.execute(
            insert(provisioning_jobs)
            .values(account_id=account_id)
            .on_conflict_do_nothing(index_elements=["account_id"])
        )
        await _announce(self._session, "provisioning")


class SqlAlchemyPlatformResets(_SqlJobQueue):
    """The queue of paid resets to apply on the trading platform; one row per reset order."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, platform_resets, "order_id")

    async def enqueue(self, order_id: UUID, account_id: UUID, starting_balance: Decimal | None = None) -> None:
        await self._session.execute(
            insert(platform_resets)
            .values(order_id=order_id, account_id=account_id, starting_balance=starting_balance)
            .on_conflict_do_nothing(index_elements=["order_id"])
        )
        await _announce(self._session, "platform_resets")

    async def starting_balance_of(self, order_id: UUID) -> Decimal | None:
        return (
            await self._session.execute(
                select(platform_resets.c.starting_balance).where(platform_resets.c.order_id == order_id)
            )
        ).scalar()

    async def account_of(self, order_id: UUID) -> UUID | None:
        return (
            await self._session.execute(
                select(platform_resets.c.account_id).where(platform_resets.c.order_id == order_id)
            )
        ).scalar()
