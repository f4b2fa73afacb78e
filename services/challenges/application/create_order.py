"""Command: a trader orders a program; we open a Stripe Checkout Session for it and answer its URL.

The order id is derived from the trader and their idempotency key, so a retry after any failure (ours or Stripe's)
asks Stripe again with the same idempotency key and gets the same session back, never a second one. A retry after
success returns the remembered order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from libs.domain.fingerprint import fingerprint
from libs.domain.ids import InvalidIdentifier, parse_program_id
from services.challenges.application.actor import Caller, audit_by, require_role
from services.challenges.application.idempotency_key import require_idempotency_key
from services.challenges.application.ports import (
    ChallengesUnitOfWork,
    CheckoutRequest,
    PaymentProvider,
    UserDirectory,
)
from services.challenges.domain.order import Order, OrderStatus
from services.challenges.domain.program import ProgramNotFound, VersionStatus
from services.challenges.domain.subscription import Billing

OPERATION = "CreateOrder"
_ORDER_NAMESPACE = uuid5(NAMESPACE_URL, "https://dynasty.futures/orders")


@dataclass(frozen=True)
class CreateOrder:
    request_id: str
    program_id: str
    program_version: int | None  # None: the version on sale now
    promotion_code: str | None
    success_url: str
    cancel_url: str
    caller: Caller


def order_id_for(user_id: str, request_id: str) -> UUID:
    return uuid5(_ORDER_NAMESPACE, f"{user_id}\n{request_id}")


def checkout_idempotency_key(order_id: UUID) -> str:
    return f"order:{order_id}:checkout"


class CreateOrderHandler:
    def __init__(
        self,
        uow: Callable[[], ChallengesUnitOfWork],
        payments: PaymentProvider,
        users: UserDirectory,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._payments = payments
        self._users = users
        self._clock = clock

    async def __call__(self, cmd: CreateOrder) -> Order:
        require_role(cmd.caller, "trader", action="buy a challenge")
        require_idempotency_key(cmd.request_id)
        try:
            program_id = parse_program_id(cmd.program_id)
        except InvalidIdentifier as exc:
            raise InvalidArgument(str(exc), field="program_id") from None
        code = (cmd.promotion_code or "").strip() or None
        if code is not None and len(code) > 64:
            raise InvalidArgument("promotion_code is at most 64 characters", field="promotion_code")
        for name, url in (("success_url", cmd.success_url), ("cancel_url", cmd.cancel_url)):
            if not url.startswith(("https://", "http://")) or len(url) > 2048:
                raise InvalidArgument(f"{name} must be an http(s) URL of at most 2048 characters", field=name)
        params = fingerprint(
            {
                "program_id": program_id,
                "version": cmd.program_version,
                "promotion_code": code,
                "success_url": cmd.success_url,
                "cancel_url": cmd.cancel_url,
            }
        )
        order_id = order_id_for(cmd.caller.actor_id, cmd.request_id)
        async with self._uow() as uow:
            remembered = await uow.idempotency.recall(cmd.request_id, f"{OPERATION}:{cmd.caller.actor_id}", params)
            if remembered is not None:
                order = await uow.orders.get(UUID(remembered["order_id"]))
                if order is None:  # orders are never deleted; say so loudly if one is
                    raise FailedPrecondition("the remembered order is missing", reason="INTERNAL")
                return order
            version = await uow.programs.get_version(program_id, cmd.program_version)
            if version is None:
                raise ProgramNotFound(program_id, cmd.program_version)
            if version.status is not VersionStatus.PUBLISHED:
                raise FailedPrecondition(
                    f"program {program_id} version {version.version} is retired and no longer sold",
                    reason="PROGRAM_VERSION_RETIRED",
                    program_id=program_id,
                    version=str(version.version),
                )
            email = await self._users.email_of_caller(cmd.caller.token or "")
            now = self._clock.now()
            order = Order(
                order_id=order_id,
                user_id=cmd.caller.actor_id,
                user_email=email,
                program_id=program_id,
                program_version_id=version.version_id,
                program_version=version.version,
                price=version.terms.price,
                promotion_code=code,
                status=OrderStatus.PENDING,
                created_at=now,
                billing=version.terms.billing.value,
            )
            session = await self._payments.create_checkout(
                CheckoutRequest(
                    order_id=order_id,
                    product_name=version.terms.name,
                    price_key=f"program-version:{version.version_id}",
                    amount=version.terms.price,
                    customer_email=email,
                    promotion_code=code,
                    success_url=cmd.success_url,
                    cancel_url=cmd.cancel_url,
                    # A monthly program is sold as a subscription billed every month (ADR 0051).
                    recurring_interval="month" if version.terms.billing is Billing.MONTHLY else None,
                ),
                idempotency_key=checkout_idempotency_key(order_id),
            )
            order.attach_checkout(session.session_id, session.url)
            await uow.orders.add(order)
            await uow.audit.append(
                audit_by(
                    cmd.caller,
                    at=now,
                    action="order.created",
                    subject_type="order",
                    subject_id=str(order_id),
                    before=None,
                    after={
                        "program_id": program_id,
                        "version": version.version,
                        "price": str(version.terms.price.amount),
                        "currency": version.terms.price.currency.value,
                        "promotion_code": code,
                        "checkout_session_id": session.session_id,
                        "billing": version.terms.billing.value,
                    },
                )
            )
            await uow.idempotency.remember(
                cmd.request_id, f"{OPERATION}:{cmd.caller.actor_id}", params, {"order_id": str(order_id)}
            )
            await uow.commit()
        return order
