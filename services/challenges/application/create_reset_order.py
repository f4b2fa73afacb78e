"""Command: a trader buys a reset of their account (a new attempt at phase 1); we open a Stripe Checkout for the
reset fee the account bought with its program version (ADR 0054: a term of the program, snapshotted on the
account). The account's resettability is checked now, before the trader pays, and again when the payment lands.
Idempotent by request id, with the order id derived from it as for purchases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from libs.domain.fingerprint import fingerprint
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.create_order import checkout_idempotency_key, order_id_for
from services.challenges.application.get_account import AccountNotFound, parse_account_id
from services.challenges.application.idempotency_key import require_idempotency_key
from services.challenges.application.ports import ChallengesUnitOfWork, CheckoutRequest, PaymentProvider
from services.challenges.domain.order import Order, OrderKind, OrderStatus

OPERATION = "CreateResetOrder"


@dataclass(frozen=True)
class CreateResetOrder:
    request_id: str
    account_id: str
    success_url: str
    cancel_url: str
    caller: Caller


class CreateResetOrderHandler:
    def __init__(self, uow: Callable[[], ChallengesUnitOfWork], payments: PaymentProvider, clock: Clock) -> None:
        self._uow = uow
        self._payments = payments
        self._clock = clock

    async def __call__(self, cmd: CreateResetOrder) -> Order:
        require_role(cmd.caller, "trader", action="buy a reset")
        require_idempotency_key(cmd.request_id)
        account_id = parse_account_id(cmd.account_id)
        for name, url in (("success_url", cmd.success_url), ("cancel_url", cmd.cancel_url)):
            if not url.startswith(("https://", "http://")) or len(url) > 2048:
                raise InvalidArgument(f"{name} must be an http(s) URL of at most 2048 characters", field=name)
        operation = f"{OPERATION}:{cmd.caller.actor_id}"
        params = fingerprint({"account_id": str(account_id), "success": cmd.success_url, "cancel": cmd.cancel_url})
        order_id = order_id_for(cmd.caller.actor_id, f"reset\n{cmd.request_id}")
        async with self._uow() as uow:
            remembered = await uow.idempotency.recall(cmd.request_id, operation, params)
            if remembered is not None:
                order = await uow.orders.get(UUID(remembered["order_id"]))
                if order is None:
                    raise FailedPrecondition("the remembered order is missing", reason="INTERNAL")
                return order
            account = await uow.accounts.get(account_id)
            if account is None or account.user_id != cmd.caller.actor_id:
                raise AccountNotFound(cmd.account_id)
            account.ensure_resettable()
            version = await uow.programs.get_version(account.program_id, account.program_version)
            if version is None:
                raise FailedPrecondition("the account's program version is gone", reason="INTERNAL")
            fee = account.terms.reset_fee if account.terms is not None else None
            if fee is None:
                raise FailedPrecondition(
                    "this account's program version does not sell resets", reason="RESETS_NOT_OFFERED"
                )
            now = self._clock.now()
            order = Order(
                order_id=order_id,
                user_id=cmd.caller.actor_id,
                user_email=account.user_email,
                program_id=account.program_id,
                program_version_id=version.version_id,
                program_version=version.version,
                price=fee,
                promotion_code=None,
                status=OrderStatus.PENDING,
                created_at=now,
                kind=OrderKind.RESET,
                reset_account_id=account_id,
            )
            session = await self._payments.create_checkout(
                CheckoutRequest(
                    order_id=order_id,
                    product_name=f"Reset: {version.terms.name}",
                    # The fee is in the key: one Stripe Price per amount, even for accounts snapshotted differently.
                    price_key=f"reset:{version.version_id}:{fee.amount}",
                    amount=fee,
                    customer_email=account.user_email,
                    promotion_code=None,
                    success_url=cmd.success_url,
                    cancel_url=cmd.cancel_url,
                ),
                idempotency_key=checkout_idempotency_key(order_id),
            )
            order.attach_checkout(session.session_id, session.url)
            await uow.orders.add(order)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action="order.reset_created",
                    subject_type="order",
                    subject_id=str(order_id),
                    before=None,
                    after={"account_id": str(account_id), "price": str(fee.amount), "currency": fee.currency.value},
                )
            )
            await uow.idempotency.remember(cmd.request_id, operation, params, {"order_id": str(order_id)})
            await uow.commit()
        return order
