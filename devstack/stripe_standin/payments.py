"""Money that moved: payment intents and charges, subscriptions and invoices, refunds and disputes.

Payment intents and invoices come into being when the customer pays (see checkout.py and the /_standin/ controls);
the API here reads them and performs what a merchant may do afterwards: refund, cancel a subscription, accept a
dispute. Amounts are integers in the currency's minor unit, as on Stripe's wire.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.stripe_standin.api import Call, State, list_of
from devstack.stripe_standin.errors import StripeError
from devstack.stripe_standin.store import new_id

DECLINE = {
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
    "type": "card_error",
}


def add_interval(start: int, interval: str, count: int) -> int:
    moment = datetime.fromtimestamp(start, UTC)
    if interval == "day":
        return int((moment + timedelta(days=count)).timestamp())
    if interval == "week":
        return int((moment + timedelta(weeks=count)).timestamp())
    months = count * (12 if interval == "year" else 1)
    year, month0 = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])  # Jan 31 + 1 month is Feb 28/29, as on Stripe
    return int(moment.replace(year=year, month=month0 + 1, day=day).timestamp())


# -- payment intents and charges ----------------------------------------------------------------------------------
def new_payment(
    state: State,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    metadata: dict[str, str],
    email: str | None,
    succeeded: bool,
    description: str | None = None,
    existing_intent: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A confirmed payment attempt: the intent (new, or the one a declined attempt left) and its charge."""
    now = state.now()
    intent = existing_intent or {
        "id": new_id("pi_", 24),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": now,
        "currency": currency,
        "customer": customer,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "payment_method": None,
        "payment_method_types": ["card"],
        "receipt_email": email,
        "status": "requires_payment_method",
    }
    if existing_intent is None:
        intent["client_secret"] = f"{intent['id']}_secret_{new_id('', 24)}"
        state.store.put(intent)
        state.emit("payment_intent.created", intent)
    payment_method = new_id("pm_", 24)
    charge = {
        "id": new_id("ch_", 24),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": 0,
        "balance_transaction": new_id("txn_", 24) if succeeded else None,
        "billing_details": {"email": email, "name": None, "phone": None, "address": None},
        "captured": succeeded,
        "created": now,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": False,
        "failure_code": None if succeeded else DECLINE["code"],
        "failure_message": None if succeeded else DECLINE["message"],
        "livemode": False,
        "metadata": metadata,
        "outcome": {
            "network_status": "approved_by_network" if succeeded else "declined_by_network",
            "reason": None if succeeded else "generic_decline",
            "risk_level": "normal",
            "seller_message": "Payment complete." if succeeded else "The bank did not return any further details.",
            "type": "authorized" if succeeded else "issuer_declined",
        },
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": payment_method,
        "receipt_email": email,
        "receipt_url": f"{state.public_url}/_standin/receipts/{intent['id']}",
        "refunded": False,
        "status": "succeeded" if succeeded else "failed",
    }
    intent["latest_charge"] = charge["id"]
    intent["payment_method"] = payment_method if succeeded else None
    if succeeded:
        intent["status"] = "succeeded"
        intent["amount_received"] = amount
        intent["last_payment_error"] = None
    else:
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {**DECLINE, "charge": charge["id"]}
    state.store.put(charge)
    state.store.put(intent)
    if succeeded:
        state.emit("charge.succeeded", charge)
        state.emit("payment_intent.succeeded", intent)
    else:
        state.emit("charge.failed", charge)
        state.emit("payment_intent.payment_failed", intent)
    return intent, charge


# Stripe's test payment methods: the ones that succeed and the ones that are declined.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": True,
    "pm_card_mastercard": True,
    "pm_card_amex": True,
    "pm_card_chargeDeclined": False,
    "pm_card_visa_chargeDeclined": False,
    "pm_card_chargeDeclinedInsufficientFunds": False,
}


def create_payment_intent(state: State, call: Call) -> dict[str, Any]:
    amount = call.integer("amount")
    if amount is None:
        raise StripeError(400, "Missing required param: amount.", code="parameter_missing", param="amount")
    if amount < 50:
        raise StripeError(400, "Amount must be at least $0.50 usd", code="amount_too_small", param="amount")
    currency = call.require("currency").lower()
    customer = call.get("customer")
    if customer:
        state.load(customer, "customer", param="customer")
    intent = {
        "id": new_id("pi_", 24),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": state.now(),
        "currency": currency,
        "customer": customer,
        "description": call.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": call.metadata(),
        "payment_method": call.get("payment_method"),
        "payment_method_types": ["card"],
        "receipt_email": call.get("receipt_email"),
        "status": "requires_confirmation" if call.get("payment_method") else "requires_payment_method",
    }
    intent["client_secret"] = f"{intent['id']}_secret_{new_id('', 24)}"
    state.store.put(intent)
    state.emit("payment_intent.created", intent)
    if call.boolean("confirm"):
        return _confirm(state, intent, call.get("payment_method"))
    return intent


def confirm_payment_intent(state: State, call: Call) -> dict[str, Any]:
    intent = retrieve_payment_intent(state, call)
    return _confirm(state, intent, call.get("payment_method") or intent["payment_method"])


def _confirm(state: State, intent: dict[str, Any], payment_method: str | None) -> dict[str, Any]:
    if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        message = f"This PaymentIntent's status is {intent['status']}; it cannot be confirmed."
        raise StripeError(400, message, code="payment_intent_unexpected_state")
    if payment_method not in TEST_PAYMENT_METHODS:
        message = f"Use one of Stripe's test payment methods: {', '.join(TEST_PAYMENT_METHODS)}."
        raise StripeError(400, message, code="payment_method_invalid_parameter", param="payment_method")
    intent, _charge = new_payment(
        state,
        amount=intent["amount"],
        currency=intent["currency"],
        customer=intent["customer"],
        metadata=intent["metadata"],
        email=intent["receipt_email"],
        succeeded=TEST_PAYMENT_METHODS[payment_method],
        description=intent["description"],
        existing_intent=intent,
    )
    return intent


def cancel_payment_intent(state: State, call: Call) -> dict[str, Any]:
    intent = retrieve_payment_intent(state, call)
    if intent["status"] in ("succeeded", "canceled"):
        message = f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}."
        raise StripeError(400, message, code="payment_intent_unexpected_state")
    intent.update(status="canceled", canceled_at=state.now(), cancellation_reason=call.get("cancellation_reason"))
    state.store.put(intent)
    state.emit("payment_intent.canceled", intent)
    return intent


def retrieve_payment_intent(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "payment_intent", "payment_intent")


def list_payment_intents(state: State, call: Call) -> dict[str, Any]:
    customer = call.get("customer")
    return list_of(state, "payment_intent", call, lambda p: customer is None or p["customer"] == customer)


def retrieve_charge(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "charge")


def list_charges(state: State, call: Call) -> dict[str, Any]:
    customer, intent = call.get("customer"), call.get("payment_intent")
    return list_of(
        state,
        "charge",
        call,
        lambda c: (customer is None or c["customer"] == customer) and (intent is None or c["payment_intent"] == intent),
    )


# -- subscriptions and invoices -----------------------------------------------------------------------------------
def new_subscription(
    state: State, *, customer: str, line_items: list[dict[str, Any]], metadata: dict[str, str], currency: str
) -> dict[str, Any]:
    now = state.now()
    subscription_id = new_id("sub_", 24)
    items = []
    for item in line_items:
        recurring = item["price"]["recurring"]
        items.append(
            {
                "id": new_id("si_", 14),
                "object": "subscription_item",
                "created": now,
                "current_period_start": now,
                "current_period_end": add_interval(now, recurring["interval"], recurring["interval_count"]),
                "metadata": {},
                "price": item["price"],
                "quantity": item["quantity"],
                "subscription": subscription_id,
            }
        )
    subscription = {
        "id": subscription_id,
        "object": "subscription",
        "billing_cycle_anchor": now,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer,
        "default_payment_method": None,
        "description": None,
        "discounts": [],
        "ended_at": None,
        "items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata,
        "start_date": now,
        "status": "incomplete",
        "trial_end": None,
        "trial_start": None,
    }
    return state.store.put(subscription)


def bill_subscription(
    state: State,
    subscription: dict[str, Any],
    *,
    reason: str,
    succeeded: bool,
    email: str | None,
    discount: int = 0,
) -> dict[str, Any]:
    """One invoice for the subscription's current period, paid (or not) at once, as automatic collection does."""
    now = state.now()
    items = subscription["items"]["data"]
    lines = [
        {
            "id": new_id("il_", 24),
            "object": "line_item",
            "amount": item["price"]["unit_amount"] * item["quantity"],
            "currency": subscription["currency"],
            "description": f"{item['quantity']} x {item['price']['nickname'] or item['price']['product']}",
            "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
            "pricing": {
                "price_details": {"price": item["price"]["id"], "product": item["price"]["product"]},
                "type": "price_details",
                "unit_amount_decimal": item["price"]["unit_amount_decimal"],
            },
            "quantity": item["quantity"],
        }
        for item in items
    ]
    subtotal = sum(line["amount"] for line in lines)
    total = subtotal - discount
    invoice_id = new_id("in_", 24)
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": total,
        "amount_paid": 0,
        "amount_remaining": total,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": subscription["currency"],
        "customer": subscription["customer"],
        "customer_email": email,
        "hosted_invoice_url": f"{state.public_url}/_standin/invoices/{invoice_id}",
        "lines": {"object": "list", "data": lines, "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"},
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": new_id("", 8).upper() + "-0001",
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": subscription["metadata"], "subscription": subscription["id"]},
            "type": "subscription_details",
        },
        "payments": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={invoice_id}",
        },
        "period_end": items[0]["current_period_end"],
        "period_start": items[0]["current_period_start"],
        "status": "open",
        "status_transitions": {"finalized_at": now, "paid_at": None, "voided_at": None},
        "subtotal": subtotal,
        "total": total,
        "total_discount_amounts": [],
    }
    state.store.put(invoice)
    subscription["latest_invoice"] = invoice_id
    state.store.put(subscription)
    state.emit("invoice.created", invoice)
    state.emit("invoice.finalized", invoice)
    return attempt_invoice_payment(state, invoice, succeeded=succeeded, email=email)


def attempt_invoice_payment(
    state: State, invoice: dict[str, Any], *, succeeded: bool, email: str | None
) -> dict[str, Any]:
    subscription = state.load(invoice["parent"]["subscription_details"]["subscription"], "subscription")
    previous_intent = None
    if invoice["payments"]["data"]:
        previous_intent = state.store.get(invoice["payments"]["data"][-1]["payment"]["payment_intent"])
    intent, _charge = new_payment(
        state,
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        customer=invoice["customer"],
        metadata={},
        email=email,
        succeeded=succeeded,
        description="Subscription " + ("creation" if invoice["billing_reason"] == "subscription_create" else "update"),
        existing_intent=previous_intent,
    )
    if not invoice["payments"]["data"]:
        invoice["payments"]["data"].append(
            {
                "id": new_id("inpay_", 24),
                "object": "invoice_payment",
                "amount_paid": None,
                "amount_requested": invoice["amount_due"],
                "created": state.now(),
                "currency": invoice["currency"],
                "invoice": invoice["id"],
                "is_default": True,
                "livemode": False,
                "payment": {"payment_intent": intent["id"], "type": "payment_intent"},
                "status": "open",
            }
        )
    payment = invoice["payments"]["data"][0]
    before = subscription["status"]
    if succeeded:
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, next_payment_attempt=None)
        invoice["status_transitions"]["paid_at"] = state.now()
        payment.update(status="paid", amount_paid=invoice["amount_due"])
        subscription["status"] = "active"
    else:
        invoice["next_payment_attempt"] = state.now() + 3 * 86400  # Smart Retries' first retry, roughly
        subscription["status"] = "past_due" if before in ("active", "past_due") else "incomplete"
    state.store.put(invoice)
    state.store.put(subscription)
    if before == "incomplete" and subscription["status"] == "active":
        state.emit("customer.subscription.created", subscription)
    elif before != subscription["status"]:
        state.emit("customer.subscription.updated", subscription, {"status": before})
    if succeeded:
        state.emit("invoice.paid", invoice)
        state.emit("invoice.payment_succeeded", invoice)
    else:
        state.emit("invoice.payment_failed", invoice)
    return invoice


def renew_subscription(state: State, subscription_id: str, *, succeeded: bool) -> dict[str, Any]:
    """The next billing period starts: roll the period and bill it (the control for 'a month has passed'). A
    subscription cancelled at period end does not renew: the period's end ends it, as on Stripe (the subscription is
    returned instead of an invoice)."""
    subscription = state.load(subscription_id, "subscription")
    if subscription["status"] not in ("active", "past_due", "trialing"):
        message = f"A subscription with status {subscription['status']} does not renew."
        raise StripeError(400, message, code="subscription_not_renewable")
    if subscription.get("cancel_at_period_end"):
        return end_subscription(state, subscription, reason="cancellation_requested")
    previous_end = subscription["items"]["data"][0]["current_period_end"]
    for item in subscription["items"]["data"]:
        recurring = item["price"]["recurring"]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = add_interval(
            item["current_period_start"], recurring["interval"], recurring["interval_count"]
        )
    state.store.put(subscription)
    state.emit("customer.subscription.updated", subscription, {"items": {"current_period_end": previous_end}})
    customer = state.store.get(subscription["customer"]) or {}
    return bill_subscription(
        state, subscription, reason="subscription_cycle", succeeded=succeeded, email=customer.get("email")
    )


def retrieve_subscription(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "subscription")


def list_subscriptions(state: State, call: Call) -> dict[str, Any]:
    customer, status = call.get("customer"), call.get("status")
    return list_of(
        state,
        "subscription",
        call,
        lambda s: (
            (customer is None or s["customer"] == customer)
            and (status == "all" or (status is None and s["status"] != "canceled") or s["status"] == status)
        ),
    )


def update_subscription(state: State, call: Call) -> dict[str, Any]:
    subscription = retrieve_subscription(state, call)
    if subscription["status"] == "canceled":
        raise _canceled(subscription)
    previous: dict[str, Any] = {}
    if call.get("cancel_at_period_end") is not None:
        previous["cancel_at_period_end"] = subscription["cancel_at_period_end"]
        previous["cancel_at"] = subscription["cancel_at"]
        subscription["cancel_at_period_end"] = call.boolean("cancel_at_period_end")
        subscription["cancel_at"] = (
            subscription["items"]["data"][0]["current_period_end"] if subscription["cancel_at_period_end"] else None
        )
    if call.get("metadata") is not None:
        previous["metadata"] = subscription["metadata"]
        subscription["metadata"] = call.metadata(subscription["metadata"])
    state.store.put(subscription)
    state.emit("customer.subscription.updated", subscription, previous)
    return subscription


def cancel_subscription(state: State, call: Call) -> dict[str, Any]:
    subscription = retrieve_subscription(state, call)
    if subscription["status"] == "canceled":
        raise _canceled(subscription)
    return end_subscription(state, subscription, reason="cancellation_requested")


def end_subscription(state: State, subscription: dict[str, Any], *, reason: str) -> dict[str, Any]:
    now = state.now()
    subscription.update(status="canceled", canceled_at=now, ended_at=now)
    subscription["cancellation_details"]["reason"] = reason
    state.store.put(subscription)
    state.emit("customer.subscription.deleted", subscription)
    return subscription


def _canceled(subscription: dict[str, Any]) -> StripeError:
    return StripeError(
        400, f"A canceled subscription can only update its cancellation_details and metadata. {subscription['id']}"
    )


def retrieve_invoice(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "invoice")


def list_invoices(state: State, call: Call) -> dict[str, Any]:
    customer, subscription, status = call.get("customer"), call.get("subscription"), call.get("status")
    return list_of(
        state,
        "invoice",
        call,
        lambda i: (
            (customer is None or i["customer"] == customer)
            and (subscription is None or i["parent"]["subscription_details"]["subscription"] == subscription)
            and (status is None or i["status"] == status)
        ),
    )


# -- refunds ------------------------------------------------------------------------------------------------------
def create_refund(state: State, call: Call) -> dict[str, Any]:
    charge_id = call.get("charge")
    if charge_id is None and call.get("payment_intent"):
        intent = state.load(call.get("payment_intent"), "payment_intent", "payment_intent", param="payment_intent")
        if intent["status"] != "succeeded":
            message = f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund."
            raise StripeError(400, message, code="charge_not_refundable", param="payment_intent")
        charge_id = intent["latest_charge"]
    if charge_id is None:
        raise StripeError(
            400, "One of the following params should be provided for this request: payment_intent or charge."
        )
    charge = state.load(charge_id, "charge", param="charge")
    if charge["status"] != "succeeded":
        raise StripeError(400, f"Charge {charge['id']} has not succeeded.", code="charge_not_refundable")
    if charge["disputed"]:
        raise StripeError(
            400, f"Charge {charge['id']} has been charged back; it cannot be refunded.", code="charge_disputed"
        )
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining == 0:
        raise StripeError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = call.integer("amount", remaining)
    if amount is None or amount <= 0:
        raise StripeError(400, "Refund amount must be positive.", code="parameter_invalid_integer", param="amount")
    if amount > remaining:
        message = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
        raise StripeError(400, message, code="amount_too_large", param="amount")
    reason = call.get("reason")
    if reason is not None and reason not in ("duplicate", "fraudulent", "requested_by_customer"):
        raise StripeError(400, f"Invalid reason: {reason}", code="parameter_invalid", param="reason")
    refund = {
        "id": new_id("re_", 24),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_", 24),
        "charge": charge["id"],
        "created": state.now(),
        "currency": charge["currency"],
        "metadata": call.metadata(),
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "status": "succeeded",
    }
    state.store.put(refund)
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    state.store.put(charge)
    state.emit("refund.created", refund)
    state.emit("charge.refunded", charge, previous)
    return refund


def retrieve_refund(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "refund")


def list_refunds(state: State, call: Call) -> dict[str, Any]:
    charge, intent = call.get("charge"), call.get("payment_intent")
    return list_of(
        state,
        "refund",
        call,
        lambda r: (charge is None or r["charge"] == charge) and (intent is None or r["payment_intent"] == intent),
    )


# -- disputes -----------------------------------------------------------------------------------------------------
REASONS = ("fraudulent", "duplicate", "product_not_received", "subscription_canceled", "unrecognized", "general")


def open_dispute(state: State, charge_id: str, *, reason: str, amount: int | None) -> dict[str, Any]:
    """The cardholder's bank pulls the money back (the control for a chargeback)."""
    if reason not in REASONS:
        raise StripeError(400, f"reason must be one of {', '.join(REASONS)}", param="reason")
    charge = state.load(charge_id, "charge")
    if charge["status"] != "succeeded" or charge["disputed"]:
        raise StripeError(
            400, f"Charge {charge_id} cannot be disputed (status {charge['status']}, disputed {charge['disputed']})."
        )
    now = state.now()
    dispute = {
        "id": new_id("dp_", 24),
        "object": "dispute",
        "amount": amount or charge["amount"] - charge["amount_refunded"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "evidence": {},
        "evidence_details": {
            "due_by": now + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "needs_response",
    }
    charge["disputed"] = True
    state.store.put(charge)
    state.store.put(dispute)
    state.emit("charge.dispute.created", dispute)
    return dispute


def close_dispute_as(state: State, dispute_id: str, status: str) -> dict[str, Any]:
    if status not in ("won", "lost"):
        raise StripeError(400, "status must be won or lost", param="status")
    dispute = state.load(dispute_id, "dispute")
    if dispute["status"] in ("won", "lost"):
        raise StripeError(400, f"This dispute is already closed ({dispute['status']}).", code="dispute_already_closed")
    previous = {"status": dispute["status"]}
    dispute["status"] = status
    state.store.put(dispute)
    state.emit("charge.dispute.closed", dispute, previous)
    return dispute


def retrieve_dispute(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "dispute")


def list_disputes(state: State, call: Call) -> dict[str, Any]:
    charge, intent = call.get("charge"), call.get("payment_intent")
    return list_of(
        state,
        "dispute",
        call,
        lambda d: (charge is None or d["charge"] == charge) and (intent is None or d["payment_intent"] == intent),
    )


def update_dispute(state: State, call: Call) -> dict[str, Any]:
    dispute = retrieve_dispute(state, call)
    dispute["metadata"] = call.metadata(dispute["metadata"])
    if isinstance(call.get("evidence"), dict):
        dispute["evidence"].update(call.get("evidence"))
        dispute["evidence_details"]["has_evidence"] = True
    if call.get("submit") == "true":
        dispute["evidence_details"]["submission_count"] += 1
        dispute["status"] = "under_review"
    state.store.put(dispute)
    state.emit("charge.dispute.updated", dispute)
    return dispute


def close_dispute(state: State, call: Call) -> dict[str, Any]:
    """Stripe's 'close' means the merchant accepts the dispute: it is lost."""
    return close_dispute_as(state, call.path["id"], "lost")


ROUTES = [
    ("POST", "/v1/payment_intents", create_payment_intent),
    ("POST", "/v1/payment_intents/{id}/confirm", confirm_payment_intent),
    ("POST", "/v1/payment_intents/{id}/cancel", cancel_payment_intent),
    ("GET", "/v1/payment_intents", list_payment_intents),
    ("GET", "/v1/payment_intents/{id}", retrieve_payment_intent),
    ("GET", "/v1/charges", list_charges),
    ("GET", "/v1/charges/{id}", retrieve_charge),
    ("GET", "/v1/subscriptions", list_subscriptions),
    ("GET", "/v1/subscriptions/{id}", retrieve_subscription),
    ("POST", "/v1/subscriptions/{id}", update_subscription),
    ("DELETE", "/v1/subscriptions/{id}", cancel_subscription),
    ("GET", "/v1/invoices", list_invoices),
    ("GET", "/v1/invoices/{id}", retrieve_invoice),
    ("POST", "/v1/refunds", create_refund),
    ("GET", "/v1/refunds", list_refunds),
    ("GET", "/v1/refunds/{id}", retrieve_refund),
    ("GET", "/v1/disputes", list_disputes),
    ("GET", "/v1/disputes/{id}", retrieve_dispute),
    ("POST", "/v1/disputes/{id}", update_dispute),
    ("POST", "/v1/disputes/{id}/close", close_dispute),
]
