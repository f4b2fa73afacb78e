"""Stripe through the official SDK (stripe==16.1.0): Checkout Sessions and refunds, and what its events mean to us.

`base` None talks to api.stripe.com; the devstack and the tests give the Stripe stand-in's address. The SDK's async
methods over its httpx client keep the calls on the event loop (no worker threads fighting the loop for the GIL in a
launch's burst); its network retries reuse the idempotency key, so they are safe.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import stripe

from libs.domain.errors import FailedPrecondition
from libs.domain.money import Currency, Money
from services.challenges.application.ports import CheckoutRequest, CheckoutSession, UnknownPromotionCode
from services.challenges.application.record_payment_event import NoticeKind, PaymentNotice


class StripeUnavailable(FailedPrecondition):
    """Stripe refused or could not be reached; nothing was stored, the caller may try again."""


class StripePayments:
    def __init__(self, api_key: str, *, base: str | None = None, max_network_retries: int = 2) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base} if base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.HTTPXClient(timeout=30),
        )
        self._prices: dict[str, str] = {}  # lookup key -> Stripe price id; prices are immutable, so never stale

    async def create_checkout(self, request: CheckoutRequest, *, idempotency_key: str) -> CheckoutSession:
        order_id = str(request.order_id)
        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": order_id,
            "customer_email": request.customer_email,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": {"order_id": order_id},
            # Copied onto the payment intent, so payment_intent.* events name the order too.
            "payment_intent_data": {"metadata": {"order_id": order_id}},
            "line_items": [{"quantity": 1, "price": await self._price_for(request)}],
        }
        if request.recurring_interval:
            # A monthly program: Checkout creates the subscription; its metadata is copied onto every invoice
            # (parent.subscription_details.metadata), so invoice.* and customer.subscription.* events name the order.
            del params["payment_intent_data"]
            params["mode"] = "subscription"
            params["subscription_data"] = {"metadata": {"order_id": order_id}}
        if request.promotion_code:
            params["discounts"] = [{"promotion_code": await self._promotion_code_id(request.promotion_code)}]
        session = await self._call(
            self._client.v1.checkout.sessions.create_async, params=params, options={"idempotency_key": idempotency_key}
        )
        return CheckoutSession(session_id=session.id, url=session.url)

    async def _price_for(self, request: CheckoutRequest) -> str:
        """The Stripe Price for what is sold (found by lookup key, else created once under an idempotency key)."""
        # The amount is part of the key: a version's price never changes, but a key must never name two amounts.
        # No rounding mode for the cents: a sub-cent price is refused rather than rounded silently.
        cents = request.amount.to_minor_units()
        lookup_key = f"{request.price_key}:{request.amount.currency.value.lower()}:{cents}"
        if request.recurring_interval:  # a recurring price is another Price: never reuse a one-time one for it
            lookup_key += f":per-{request.recurring_interval}"
        cached = self._prices.get(lookup_key)
        if cached is not None:
            return cached
        found = await self._call(self._client.v1.prices.list_async, params={"lookup_keys": [lookup_key], "limit": 1})
        if found.data:
            price_id = found.data[0].id
        else:
            created = await self._call(
                self._client.v1.prices.create_async,
                params={
                    "currency": request.amount.currency.value.lower(),
                    "unit_amount": cents,
                    "lookup_key": lookup_key,
                    "product_data": {"name": request.product_name},
                    **({"recurring": {"interval": request.recurring_interval}} if request.recurring_interval else {}),
                },
                options={"idempotency_key": f"price:{lookup_key}"},
            )
            price_id = created.id
        self._prices[lookup_key] = price_id
        return price_id

    async def refund(self, payment_intent_id: str, *, reason: str, idempotency_key: str) -> str:
        refund = await self._call(
            self._client.v1.refunds.create_async,
            params={"payment_intent": payment_intent_id, "reason": reason, "metadata": {"reason": reason}},
            options={"idempotency_key": idempotency_key},
        )
        return refund.id

    async def cancel_at_period_end(self, subscription_id: str, *, idempotency_key: str) -> datetime | None:
        subscription = await self._call(
            self._client.v1.subscriptions.update_async,
            subscription_id,
            params={"cancel_at_period_end": True},
            options={"idempotency_key": idempotency_key},
        )
        cancel_at = subscription.cancel_at
        return datetime.fromtimestamp(cancel_at, UTC) if isinstance(cancel_at, int) else None

    async def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> bool:
        try:
            await self._client.v1.subscriptions.cancel_async(
                subscription_id, options={"idempotency_key": idempotency_key}
            )
            return True
        except stripe.InvalidRequestError as exc:
            # Cancelled already (by the trader, by Stripe's dunning, or our earlier attempt under another key).
            if "canceled" in str(exc.user_message or exc).lower():
                return False
            raise StripeUnavailable(
                f"Stripe refused to cancel {subscription_id}: {exc.user_message or type(exc).__name__}",
                reason="STRIPE_REFUSED",
            ) from exc
        except stripe.StripeError as exc:
            raise StripeUnavailable(
                f"Stripe failed: {exc.user_message or type(exc).__name__}", reason="STRIPE_UNAVAILABLE"
            ) from exc

    async def _promotion_code_id(self, code: str) -> str:
        found = await self._call(
            self._client.v1.promotion_codes.list_async, params={"code": code, "active": True, "limit": 1}
        )
        if not found.data:
            raise UnknownPromotionCode(code)
        return found.data[0].id

    async def _call(self, method, *args, **kwargs):
        try:
            return await method(*args, **kwargs)
        except stripe.InvalidRequestError as exc:
            if exc.code and "promotion_code" in exc.code:
                raise UnknownPromotionCode(str((kwargs.get("params") or {}).get("discounts"))) from exc
            raise StripeUnavailable(
                f"Stripe refused the request: {exc.user_message or type(exc).__name__}", reason="STRIPE_REFUSED"
            ) from exc
        except stripe.StripeError as exc:
            raise StripeUnavailable(
                f"Stripe failed: {exc.user_message or type(exc).__name__}", reason="STRIPE_UNAVAILABLE"
            ) from exc


def verify_event(payload: bytes, signature: str, secret: str, tolerance: int = 300) -> dict[str, Any]:
    """The service checks Stripe's signature again (defence in depth): only Stripe-signed events move money here.
    The SDK's own check (HMAC and timestamp tolerance), without building a StripeObject we would not use.
    Raises stripe.SignatureVerificationError or ValueError."""
    stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    return json.loads(payload)


def _money(minor: Any, currency: Any) -> Money | None:
    if not isinstance(minor, int) or not isinstance(currency, str):
        return None
    try:
        return Money.from_minor_units(minor, Currency(currency.upper()))
    except ValueError:
        return None


def _order_id(obj: dict) -> UUID | None:
    raw = (obj.get("metadata") or {}).get("order_id") or obj.get("client_reference_id")
    try:
        return UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _id(value: Any) -> str | None:
    """An id field, whether Stripe sent the id or (expanded) the object."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def _subscription_of_invoice(invoice: dict) -> tuple[str | None, dict]:
    """The subscription an invoice bills and its metadata: `parent.subscription_details` in current API versions,
    `subscription` / `subscription_details` in older ones."""
    details = (invoice.get("parent") or {}).get("subscription_details") or invoice.get("subscription_details") or {}
    subscription = _id(details.get("subscription")) or _id(invoice.get("subscription"))
    return subscription, details.get("metadata") or {}


def _period_end(invoice: dict) -> datetime | None:
    """The end of the service period billed: the subscription lines' period (the invoice's own period_end is the
    previous period for renewals), else the invoice's."""
    ends = [
        (line.get("period") or {}).get("end")
        for line in ((invoice.get("lines") or {}).get("data") or [])
        if isinstance((line.get("period") or {}).get("end"), int)
    ]
    end = max(ends) if ends else invoice.get("period_end")
    return datetime.fromtimestamp(end, UTC) if isinstance(end, int) else None


def _invoice_payment_intent(invoice: dict) -> str | None:
    for payment in (invoice.get("payments") or {}).get("data") or []:
        intent = _id((payment.get("payment") or {}).get("payment_intent"))
        if intent:
            return intent
    return _id(invoice.get("payment_intent"))


def _invoice_notice(base: dict, obj: dict, kind: NoticeKind) -> PaymentNotice:
    subscription, metadata = _subscription_of_invoice(obj)
    if subscription is None:  # an invoice that is not a subscription's: not ours to act on
        return PaymentNotice(**base, kind=NoticeKind.IGNORED)
    error = (obj.get("last_finalization_error") or {}) if kind is NoticeKind.INVOICE_PAYMENT_FAILED else {}
    return PaymentNotice(
        **base,
        kind=kind,
        order_id=_order_id({"metadata": metadata}),
        subscription_id=subscription,
        invoice_id=obj.get("id"),
        period_end=_period_end(obj),
        payment_intent_id=_invoice_payment_intent(obj),
        amount=_money(obj.get("amount_paid" if kind is NoticeKind.INVOICE_PAID else "amount_due"), obj.get("currency")),
        failure_reason=(str(error.get("code") or "invoice_payment_failed")[:200])
        if kind is NoticeKind.INVOICE_PAYMENT_FAILED
        else None,
    )


def to_notice(event: dict[str, Any]) -> PaymentNotice:
    """Translate one Stripe Event into what it means for orders and accounts (tolerant reader: unknown -> ignored)."""
    event_type = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    base = {"event_id": event["id"], "event_type": event_type, "payload": event}
    if event_type == "checkout.session.completed" and obj.get("mode") == "subscription":
        if obj.get("payment_status") == "paid" and _id(obj.get("subscription")):
            return PaymentNotice(
                **base,
                kind=NoticeKind.SUBSCRIPTION_STARTED,
                order_id=_order_id(obj),
                subscription_id=_id(obj.get("subscription")),
                amount=_money(obj.get("amount_total"), obj.get("currency")),
            )
    elif event_type == "invoice.paid":
        return _invoice_notice(base, obj, NoticeKind.INVOICE_PAID)
    elif event_type == "invoice.payment_failed":
        return _invoice_notice(base, obj, NoticeKind.INVOICE_PAYMENT_FAILED)
    elif event_type == "customer.subscription.updated":
        # Only when it will end matters to us (the trader's cancel at period end, or its undoing in Stripe's portal),
        # and only from the update that changed it: a renewal's update arriving late must not undo a cancellation.
        previous = (event.get("data") or {}).get("previous_attributes") or {}
        if "cancel_at_period_end" not in previous and "cancel_at" not in previous:
            return PaymentNotice(**base, kind=NoticeKind.IGNORED)
        cancel_at = obj.get("cancel_at")
        return PaymentNotice(
            **base,
            kind=NoticeKind.SUBSCRIPTION_UPDATED,
            order_id=_order_id(obj),
            subscription_id=obj.get("id"),
            cancel_at=datetime.fromtimestamp(cancel_at, UTC) if isinstance(cancel_at, int) else None,
        )
    elif event_type == "customer.subscription.deleted":
        return PaymentNotice(
            **base, kind=NoticeKind.SUBSCRIPTION_ENDED, order_id=_order_id(obj), subscription_id=obj.get("id")
        )
    elif event_type == "checkout.session.completed":
        if obj.get("mode") == "payment" and obj.get("payment_status") == "paid":
            return PaymentNotice(
                **base,
                kind=NoticeKind.PAYMENT_SUCCEEDED,
                order_id=_order_id(obj),
                payment_intent_id=_id(obj.get("payment_intent")),
                amount=_money(obj.get("amount_total"), obj.get("currency")),
            )
    elif event_type == "payment_intent.succeeded":
        return PaymentNotice(
            **base,
            kind=NoticeKind.PAYMENT_SUCCEEDED,
            order_id=_order_id(obj),
            payment_intent_id=obj.get("id"),
            amount=_money(obj.get("amount_received", obj.get("amount")), obj.get("currency")),
        )
    elif event_type == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") or {}
        return PaymentNotice(
            **base,
            kind=NoticeKind.PAYMENT_FAILED,
            order_id=_order_id(obj),
            payment_intent_id=obj.get("id"),
            failure_reason=str(error.get("code") or error.get("message") or "payment_failed")[:200],
        )
    elif event_type == "charge.refunded":
        # Only a full refund of the paying charge refunds the order; a partial refund is a goodwill gesture.
        if obj.get("refunded") is True:
            return PaymentNotice(**base, kind=NoticeKind.REFUNDED, payment_intent_id=_id(obj.get("payment_intent")))
    elif event_type in ("charge.dispute.created", "charge.dispute.closed"):
        return PaymentNotice(
            **base,
            kind=NoticeKind.DISPUTE_OPENED if event_type.endswith("created") else NoticeKind.DISPUTE_CLOSED,
            payment_intent_id=_id(obj.get("payment_intent")),
            dispute_won=obj.get("status") == "won",
            dispute_id=obj.get("id"),
            dispute_reason=obj.get("reason"),
            dispute_status=obj.get("status"),
            amount=_money(obj.get("amount"), obj.get("currency")),
        )
    return PaymentNotice(**base, kind=NoticeKind.IGNORED)
