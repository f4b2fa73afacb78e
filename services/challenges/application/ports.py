"""Ports the challenges use cases need; adapters implement them structurally."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from libs.domain.audit import AuditEntry
from libs.domain.errors import InvalidArgument
from libs.domain.ids import ProgramId
from libs.domain.money import Money
from services.challenges.domain.account import TradingAccount
from services.challenges.domain.funded_agreement import AgreementAcceptance
from services.challenges.domain.order import Order
from services.challenges.domain.platform_credentials import SealedPlatformCredentials
from services.challenges.domain.program import Program, ProgramVersion


class ProgramRepository(Protocol):
    async def get(self, program_id: ProgramId, *, for_update: bool = False) -> Program | None: ...

    async def add(self, program: Program) -> None: ...

    async def save(self, program: Program) -> None:
        """Persist a changed program; raises ConcurrencyConflict if someone else changed it first."""
        ...

    async def add_version(self, version: ProgramVersion) -> None:
        """Store a newly published version and retire the program's previous one."""
        ...

    async def get_version(self, program_id: ProgramId, version: int | None) -> ProgramVersion | None:
        """A specific version, or the current published one when version is None."""
        ...

    async def list_current(self, *, after_key: str | None, limit: int) -> list[ProgramVersion]:
        """Current versions ordered by (account size, program id); after_key is the last item's sort key."""
        ...


class IdempotencyStore(Protocol):
    async def recall(self, key: str, operation: str, params_fingerprint: str) -> dict | None: ...

    async def remember(self, key: str, operation: str, params_fingerprint: str, response: dict) -> None: ...


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> str: ...


class CatalogueUnitOfWork(Protocol):
    programs: ProgramRepository
    idempotency: IdempotencyStore
    audit: AuditLog

    async def __aenter__(self) -> CatalogueUnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def commit(self) -> None: ...


# -- orders, payments and accounts (issue 5) ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutRequest:
    order_id: UUID
    product_name: str
    # What is sold at this amount, stable across orders ("program-version:<id>", "reset:<id>"): one Stripe Price
    # per key, reused, instead of a new Product and Price per checkout.
    price_key: str
    amount: Money
    customer_email: str
    promotion_code: str | None
    success_url: str
    cancel_url: str
    # "month" for a monthly program: a subscription-mode checkout with a recurring price; None: a one-time payment.
    recurring_interval: str | None = None


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    url: str


class UnknownPromotionCode(InvalidArgument):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"promotion code {code!r} is not valid", field="promotion_code", reason="INVALID_PROMOTION_CODE"
        )


class PaymentProvider(Protocol):
    """Stripe, behind our own words. Every call carries an idempotency key derived from our ids."""

    async def create_checkout(self, request: CheckoutRequest, *, idempotency_key: str) -> CheckoutSession: ...

    async def refund(self, payment_intent_id: str, *, reason: str, idempotency_key: str) -> str: ...

    async def cancel_at_period_end(self, subscription_id: str, *, idempotency_key: str) -> datetime | None:
        """Ask Stripe to end the subscription when the paid period ends (no further invoice); returns when it will
        end (Stripe's cancel_at)."""
        ...

    async def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> bool:
        """Stop a subscription at once (no more invoices); one already cancelled counts as done. Returns whether this
        call cancelled it (False: it was cancelled before)."""
        ...


@dataclass(frozen=True)
class PlatformCredentials:
    user_id: str
    account_id: str
    login: str
    password: str


class PlatformUnavailable(Exception):
    """The trading platform could not be reached or kept failing; the job is retried later."""


class TradingPlatform(Protocol):
    """YourPropFirm: create the trader and their trading account. Idempotent by key on the platform side."""

    async def open_account(
        self,
        *,
        account_id: UUID,
        order_id: UUID,
        email: str,
        program_id: str,
        account_size: Money,
        idempotency_prefix: str,
    ) -> PlatformCredentials: ...

    async def reset_account(
        self, platform_account_id: str, *, reason: str, idempotency_key: str, starting_balance: Decimal | None = None
    ) -> int:
        """A new attempt on the platform (balance back to the start, trading enabled); returns its attempt number.
        With `starting_balance` (a scaling step) the attempt starts at that size, which becomes the account's start."""
        ...


class UserDirectory(Protocol):
    """Who the caller is beyond the token: the email identity holds (credentials are mailed there)."""

    async def email_of_caller(self, bearer_token: str) -> str: ...


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class Notifier(Protocol):
    """Best-effort live notices to a user's open sessions (Redis pub/sub, relayed by the gateway WebSocket)."""

    async def notify_user(self, user_id: str, notice: dict) -> None: ...


class OrderRepository(Protocol):
    async def add(self, order: Order) -> None: ...

    async def get(self, order_id: UUID, *, for_update: bool = False) -> Order | None: ...

    async def save(self, order: Order) -> None: ...

    async def find_by_payment(self, payment_intent_id: str) -> UUID | None:
        """The order a payment (paying or duplicate) belongs to."""
        ...


class AccountRepository(Protocol):
    async def add(self, account: TradingAccount) -> None: ...

    async def get(self, account_id: UUID, *, for_update: bool = False) -> TradingAccount | None: ...

    async def get_by_order(self, order_id: UUID) -> TradingAccount | None: ...

    async def save(self, account: TradingAccount) -> None: ...

    async def list(
        self,
        *,
        user_id: str | None,
        statuses: tuple[str, ...],
        program_id: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[TradingAccount]: ...


class StripeEventStore(Protocol):
    async def store_once(self, event_id: str, event_type: str, payload: dict) -> bool: ...

    async def set_outcome(self, event_id: str, outcome: str) -> None: ...


class ProvisioningJobs(Protocol):
    async def enqueue(self, account_id: UUID) -> None: ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[UUID]: ...

    async def complete(self, account_id: UUID, now: datetime) -> None: ...

    async def retry_later(self, account_id: UUID, now: datetime, error: str) -> None: ...


class PlatformResets(Protocol):
    async def enqueue(self, order_id: UUID, account_id: UUID, starting_balance: Decimal | None = None) -> None:
        """Queue a platform reset once per `order_id`; `starting_balance` is the new size of a scaling step."""
        ...

    async def account_of(self, order_id: UUID) -> UUID | None: ...

    async def starting_balance_of(self, order_id: UUID) -> Decimal | None: ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[UUID]: ...

    async def complete(self, order_id: UUID, now: datetime) -> None: ...

    async def retry_later(self, order_id: UUID, now: datetime, error: str) -> None: ...


class SubscriptionStore(Protocol):
    """Monthly programs: invoices already acted on, and the billing job's work lists (ADR 0051)."""

    async def invoice_status(self, invoice_id: str) -> str | None: ...

    async def record_invoice(
        self,
        *,
        invoice_id: str,
        subscription_id: str,
        order_id: UUID,
        status: str,
        period_end: datetime | None,
        amount: Decimal | None,
        currency: str | None,
        payment_intent_id: str | None = None,
    ) -> None: ...

    async def order_of_subscription(self, subscription_id: str) -> UUID | None: ...

    async def order_of_invoice_payment(self, payment_intent_id: str) -> UUID | None: ...

    async def grace_expired(self, now: datetime, limit: int) -> list[UUID]: ...

    async def billed_after_evaluation(self, limit: int) -> list[tuple[UUID, str]]: ...

    async def paid_invoice(
        self, *, order_id: UUID | None = None, payment_intent_id: str | None = None
    ) -> PaidInvoice | None:
        """The invoice a payment settled (by payment_intent_id), or the order's latest paid one (by order_id)."""
        ...

    async def mark_invoice_refunded(self, invoice_id: str, at: datetime) -> bool:
        """Record that the invoice's charge was refunded; False if it was recorded before."""
        ...


@dataclass(frozen=True)
class PaidInvoice:
    """A subscription invoice that was paid: what a refund of a monthly charge needs to know."""

    invoice_id: str
    subscription_id: str
    order_id: UUID
    payment_intent_id: str | None
    period_end: datetime | None
    amount: Decimal | None
    currency: str | None
    refunded_at: datetime | None


class ChallengesUnitOfWork(CatalogueUnitOfWork, Protocol):
    orders: OrderRepository
    accounts: AccountRepository
    stripe_events: StripeEventStore
    provisioning: ProvisioningJobs
    platform_resets: PlatformResets
    subscriptions: SubscriptionStore

    async def __aenter__(self) -> ChallengesUnitOfWork: ...


# -- funding (passed -> funded, ADR 0046) --------------------------------------------------------------------------


class KycDirectory(Protocol):
    """Identity's word on a user's KYC, asked with the caller's own token (identity decides who may read it)."""

    async def kyc_approved(self, user_id: str, *, bearer_token: str | None) -> bool:
        """True only when identity says approved; raises KycUnavailable when identity cannot be asked."""
        ...


class KycUnavailable(Exception):
    """Identity could not be reached or refused to answer: funding is refused for now, nothing changes."""


class FundedAgreements(Protocol):
    async def get(self, account_id: UUID, version: str) -> AgreementAcceptance | None: ...

    async def add(self, acceptance: AgreementAcceptance) -> None: ...


class FundingUnitOfWork(ChallengesUnitOfWork, Protocol):
    agreements: FundedAgreements

    async def __aenter__(self) -> FundingUnitOfWork: ...


# -- platform credentials kept sealed (ADR 0045) -------------------------------------------------------------------


class SecretSealer(Protocol):
    """Envelope encryption of a short secret (libs/platform/crypto.EnvelopeCipher behind an adapter). The context is
    bound to the ciphertext: opening with another context fails."""

    def seal(self, plaintext: str, *, context: str) -> str: ...

    def open(self, sealed: str, *, context: str) -> str: ...


class PlatformCredentialStore(Protocol):
    async def add(self, credentials: SealedPlatformCredentials) -> bool:
        """Store the row unless the account already has one; True when this call stored it."""
        ...

    async def get(self, account_id: UUID, *, for_update: bool = False) -> SealedPlatformCredentials | None: ...

    async def save(self, credentials: SealedPlatformCredentials) -> None: ...

    async def due_for_erasure(
        self, now: datetime, *, retention: timedelta, reveal_window: timedelta, limit: int
    ) -> list[SealedPlatformCredentials]:
        """Sealed rows revealed longer ago than the window, or never revealed and older than the retention; locked
        (SKIP LOCKED: a reveal in progress keeps its row, the next pass takes it)."""
        ...


class CredentialsUnitOfWork(ChallengesUnitOfWork, Protocol):
    platform_credentials: PlatformCredentialStore

    async def __aenter__(self) -> CredentialsUnitOfWork: ...
