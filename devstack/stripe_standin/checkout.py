"""Checkout Sessions (mode payment and subscription), and paying one, which is what the hosted page does.

Creating a session validates what Stripe validates (prices exist, recurring prices only in subscription mode,
discounts and allow_promotion_codes are exclusive, promotion codes are redeemable) and computes the totals.
Paying it (POST /_standin/checkout/sessions/{id}/pay, or the buttons on the session's `url`) creates what Stripe
creates: in payment mode a payment intent and charge; in subscription mode a customer, a subscription and its
first invoice; then `checkout.session.completed`. A declined card leaves the session open and sends
payment_intent.payment_failed, as Stripe's page lets the buyer try another card.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devstack.stripe_standin import catalog, payments
from devstack.stripe_standin.api import Call, State, list_of
from devstack.stripe_standin.errors import StripeError
from devstack.stripe_standin.store import new_id

KIND = "checkout.session"
MODES = ("payment", "subscription")


def _line_items(state: State, call: Call, mode: str) -> list[dict[str, Any]]:
    given = call.get("line_items")
    if not isinstance(given, list) or not given:
        raise StripeError(400, "Missing required param: line_items.", code="parameter_missing", param="line_items")
    items = []
    for index, item in enumerate(given):
        param = f"line_items[{index}]"
        if item.get("price"):
            price = state.load(item["price"], "price", param=f"{param}[price]")
        elif isinstance(item.get("price_data"), dict):
            price = catalog.new_price(state, call, item["price_data"], f"{param}[price_data][")
        else:
            raise StripeError(400, "You must specify either `price` or `price_data`.", param=f"{param}[price]")
        if not price["active"]:
            raise StripeError(400, f"The price `{price['id']}` is not active.", param=f"{param}[price]")
        if mode == "payment" and price["type"] == "recurring":
            message = (
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode "
                "or use only one-time prices."
            )
            raise StripeError(400, message, param=f"{param}[price]")
        quantity = int(item.get("quantity", "1"))
        if quantity < 1:
            raise StripeError(400, "Quantity must be at least 1.", param=f"{param}[quantity]")
        items.append({"price": price, "quantity": quantity})
    if mode == "subscription" and not any(i["price"]["type"] == "recurring" for i in items):
        message = "You must provide at least one recurring price in `subscription` mode when using prices."
        raise StripeError(400, message, param="line_items")
    if len({i["price"]["currency"] for i in items}) > 1:
        raise StripeError(400, "All line items must use the same currency.", param="line_items")
    return items


def _discount_amount(coupon: dict[str, Any], subtotal: int) -> int:
    if coupon["percent_off"] is not None:
        exact = Decimal(subtotal) * Decimal(str(coupon["percent_off"])) / Decimal(100)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return min(subtotal, coupon["amount_off"])


def _resolve_discount(state: State, given: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(promotion code, coupon) from `discounts[0][promotion_code]` or `discounts[0][coupon]`."""
    if not given:
        return None, None
    if not isinstance(given, list) or len(given) != 1:
        raise StripeError(400, "Only one discount may be applied to a Checkout Session.", param="discounts")
    entry = given[0]
    if entry.get("promotion_code"):
        promo = state.load(entry["promotion_code"], "promotion_code", "promotion code", "discounts[0][promotion_code]")
        return promo, catalog.redeemable(state, promo, "discounts[0][promotion_code]")
    if entry.get("coupon"):
        coupon = state.load(entry["coupon"], "coupon", param="discounts[0][coupon]")
        if not coupon["valid"]:
            raise StripeError(400, "This coupon is no longer valid.", code="coupon_expired", param="discounts")
        return None, coupon
    raise StripeError(400, "A discount needs a coupon or a promotion_code.", param="discounts[0]")


def _apply_totals(session: dict[str, Any], promo: dict[str, Any] | None, coupon: dict[str, Any] | None) -> None:
    subtotal = session["amount_subtotal"]
    discount = _discount_amount(coupon, subtotal) if coupon else 0
    session["amount_total"] = subtotal - discount
    session["total_details"] = {"amount_discount": discount, "amount_shipping": 0, "amount_tax": 0}
    session["discounts"] = (
        [{"coupon": coupon["id"], "promotion_code": promo["id"] if promo else None}] if coupon else []
    )
    for line in session["_line_items"]["data"]:  # spread the discount pro rata is Stripe's job; one line is ours
        line["amount_discount"] = discount if len(session["_line_items"]["data"]) == 1 else 0
        line["amount_total"] = line["amount_subtotal"] - line["amount_discount"]


def create(state: State, call: Call) -> dict[str, Any]:
    mode = call.get("mode")
    if mode not in MODES:
        raise StripeError(
            400, "Missing required param: mode." if mode is None else f"Invalid mode: {mode}", param="mode"
        )
    if call.get("discounts") and call.boolean("allow_promotion_codes"):
        message = "You may only specify one of these parameters: allow_promotion_codes, discounts."
        raise StripeError(400, message, param="allow_promotion_codes")
    if call.get("customer") and call.get("customer_email"):
        raise StripeError(400, "You may only specify one of these parameters: customer, customer_email.")
    customer = catalog.live_customer(state, call.get("customer"), "customer") if call.get("customer") else None
    items = _line_items(state, call, mode)
    promo, coupon = _resolve_discount(state, call.get("discounts"))
    now = state.now()
    session_id = new_id("cs_test_", 58)
    currency = items[0]["price"]["currency"]
    lines = [
        {
            "id": new_id("li_", 24),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": i["price"]["unit_amount"] * i["quantity"],
            "amount_tax": 0,
            "amount_total": i["price"]["unit_amount"] * i["quantity"],
            "currency": currency,
            "description": i["price"]["nickname"] or (state.store.get(i["price"]["product"]) or {}).get("name"),
            "price": i["price"],
            "quantity": i["quantity"],
        }
        for i in items
    ]
    session = {
        "id": session_id,
        "object": KIND,
        "allow_promotion_codes": call.boolean("allow_promotion_codes") or None,
        "amount_subtotal": sum(line["amount_subtotal"] for line in lines),
        "amount_total": 0,
        "cancel_url": call.get("cancel_url"),
        "client_reference_id": call.get("client_reference_id"),
        "client_secret": None,
        "created": now,
        "currency": currency,
        "customer": customer["id"] if customer else None,
        "customer_creation": None if customer else ("always" if mode == "subscription" else "if_required"),
        "customer_details": None,
        "customer_email": call.get("customer_email"),
        "discounts": [],
        "expires_at": call.integer("expires_at", now + 24 * 3600),
        "invoice": None,
        "livemode": False,
        "locale": call.get("locale"),
        "metadata": call.metadata(),
        "mode": mode,
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "subscription": None,
        "success_url": call.get("success_url"),
        "total_details": None,
        "ui_mode": "hosted",
        "url": f"{state.public_url}/_standin/checkout/pay/{session_id}",
        "_line_items": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/checkout/sessions/{session_id}/line_items",
        },
        "_payment_intent_metadata": (call.get("payment_intent_data") or {}).get("metadata") or {},
        "_subscription_metadata": (call.get("subscription_data") or {}).get("metadata") or {},
    }
    _apply_totals(session, promo, coupon)
    return state.store.put(session)


def retrieve(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], KIND, "checkout.session")


def line_items(state: State, call: Call) -> dict[str, Any]:
    return retrieve(state, call)["_line_items"]


def update(state: State, call: Call) -> dict[str, Any]:
    session = retrieve(state, call)
    session["metadata"] = call.metadata(session["metadata"])
    return state.store.put(session)


def expire(state: State, call: Call) -> dict[str, Any]:
    session = retrieve(state, call)
    if session["status"] != "open":
        message = f"Only Checkout Sessions with a status of `open` can be expired; this one is `{session['status']}`."
        raise StripeError(400, message)
    session["status"] = "expired"
    session["url"] = None
    state.store.put(session)
    state.emit("checkout.session.expired", session)
    return session


def list_sessions(state: State, call: Call) -> dict[str, Any]:
    intent, subscription = call.get("payment_intent"), call.get("subscription")
    customer, status = call.get("customer"), call.get("status")
    return list_of(
        state,
        KIND,
        call,
        lambda s: (
            (intent is None or s["payment_intent"] == intent)
            and (subscription is None or s["subscription"] == subscription)
            and (customer is None or s["customer"] == customer)
            and (status is None or s["status"] == status)
        ),
    )


# -- the buyer's side ------------------------------------------------------------------------------------------------
def pay(
    state: State, session_id: str, *, succeeded: bool, email: str | None, promotion_code: str | None
) -> dict[str, Any]:
    session = state.load(session_id, KIND, "checkout.session")
    if session["status"] != "open":
        raise StripeError(400, f"This Checkout Session is {session['status']}; it can no longer be paid.")
    if session["expires_at"] <= state.now():  # Stripe expires it on its own clock; the buyer arrives too late
        session.update(status="expired", url=None)
        state.store.put(session)
        state.emit("checkout.session.expired", session)
        return session
    promo = coupon = None
    if promotion_code:
        if not session["allow_promotion_codes"]:
            raise StripeError(400, "This Checkout Session does not accept promotion codes.")
        found, _ = state.store.list(
            "promotion_code", limit=1, where=lambda p: p["code"].lower() == promotion_code.lower()
        )
        if not found:
            raise StripeError(400, f"No promotion code {promotion_code!r}.", code="resource_missing")
        promo, coupon = found[0], catalog.redeemable(state, found[0], "promotion_code")
        _apply_totals(session, promo, coupon)
    elif session["discounts"]:
        coupon = state.load(session["discounts"][0]["coupon"], "coupon")
        promo_id = session["discounts"][0]["promotion_code"]
        promo = state.load(promo_id, "promotion_code") if promo_id else None
    email = email or session["customer_email"] or "buyer@example.test"
    customer_id = session["customer"]
    if customer_id is None and session["customer_creation"] == "always":
        customer = catalog.create_customer(state, Call({"email": email}, {}, "", "/v1/customers"))
        customer_id = customer["id"]
    if session["mode"] == "payment":
        _pay_once(state, session, customer_id, email, succeeded)
    else:
        _subscribe(state, session, customer_id, email, succeeded)
    if not succeeded:
        state.store.put(session)
        return session
    for redeemed in (promo, coupon):
        if redeemed is not None:
            redeemed["times_redeemed"] += 1
            state.store.put(redeemed)
    session.update(status="complete", payment_status="paid", customer=customer_id, url=None)
    session["customer_details"] = {"email": email, "name": None, "phone": None, "address": None, "tax_exempt": "none"}
    state.store.put(session)
    state.emit("checkout.session.completed", session)
    return session


def _pay_once(state: State, session: dict[str, Any], customer_id: str | None, email: str, succeeded: bool) -> None:
    existing = state.store.get(session["payment_intent"]) if session["payment_intent"] else None
    intent, _charge = payments.new_payment(
        state,
        amount=session["amount_total"],
        currency=session["currency"],
        customer=customer_id,
        metadata=dict(session["_payment_intent_metadata"]),
        email=email,
        succeeded=succeeded,
        existing_intent=existing,
    )
    session["payment_intent"] = intent["id"]


def _subscribe(state: State, session: dict[str, Any], customer_id: str | None, email: str, succeeded: bool) -> None:
    if not succeeded:  # Checkout creates the subscription only once the first payment goes through
        payments.new_payment(
            state,
            amount=session["amount_total"],
            currency=session["currency"],
            customer=customer_id,
            metadata={},
            email=email,
            succeeded=False,
        )
        return
    assert customer_id is not None
    subscription = payments.new_subscription(
        state,
        customer=customer_id,
        line_items=[{"price": li["price"], "quantity": li["quantity"]} for li in session["_line_items"]["data"]],
        metadata=dict(session["_subscription_metadata"]),
        currency=session["currency"],
    )
    discount = session["total_details"]["amount_discount"]
    invoice = payments.bill_subscription(
        state, subscription, reason="subscription_create", succeeded=True, email=email, discount=discount
    )
    session["subscription"] = subscription["id"]
    session["invoice"] = invoice["id"]


ROUTES = [
    ("POST", "/v1/checkout/sessions", create),
    ("GET", "/v1/checkout/sessions", list_sessions),
    ("GET", "/v1/checkout/sessions/{id}", retrieve),
    ("POST", "/v1/checkout/sessions/{id}", update),
    ("GET", "/v1/checkout/sessions/{id}/line_items", line_items),
    ("POST", "/v1/checkout/sessions/{id}/expire", expire),
]
