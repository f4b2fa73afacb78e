"""Customers, products, prices, coupons and promotion codes: what a checkout is built from."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from devstack.stripe_standin.api import Call, State, list_of
from devstack.stripe_standin.errors import StripeError
from devstack.stripe_standin.store import new_id

INTERVALS = ("day", "week", "month", "year")


def _number(text: str, param: str) -> Any:
    """A JSON number from a form value without passing through binary floating point on our side."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise StripeError(400, f"Invalid decimal: {text}", code="parameter_invalid_decimal", param=param) from None
    return json.loads(str(value.normalize()) if value != value.to_integral() else str(int(value)))


def _created(state: State, obj: dict[str, Any]) -> dict[str, Any]:
    """Store a new object and send `<object>.created`, as Stripe does for every resource created here."""
    state.store.put(obj)
    state.emit(f"{obj['object']}.created", obj)
    return obj


def _deleted(kind: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "deleted": True}


# -- customers --------------------------------------------------------------------------------------------------------
def create_customer(state: State, call: Call) -> dict[str, Any]:
    return _created(
        state,
        {
            "id": new_id("cus_", 14),
            "object": "customer",
            "address": call.get("address"),
            "balance": 0,
            "created": state.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": call.get("description"),
            "email": call.get("email"),
            "invoice_prefix": new_id("", 8).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False,
            "metadata": call.metadata(),
            "name": call.get("name"),
            "phone": call.get("phone"),
            "preferred_locales": [],
            "tax_exempt": "none",
        },
    )


def retrieve_customer(state: State, call: Call) -> dict[str, Any]:
    """A deleted customer still answers, as `{"id", "object": "customer", "deleted": true}`, as on Stripe."""
    return state.load(call.path["id"], "customer")


def live_customer(state: State, customer_id: str, param: str = "id") -> dict[str, Any]:
    customer = state.load(customer_id, "customer", param=param)
    if customer.get("deleted"):
        raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param=param)
    return customer


def update_customer(state: State, call: Call) -> dict[str, Any]:
    customer = live_customer(state, call.path["id"])
    for name in ("email", "name", "description", "phone", "address"):
        if call.get(name) is not None:
            customer[name] = call.get(name) or None
    customer["metadata"] = call.metadata(customer["metadata"])
    state.store.put(customer)
    state.emit("customer.updated", customer)
    return customer


def delete_customer(state: State, call: Call) -> dict[str, Any]:
    customer = live_customer(state, call.path["id"])
    state.store.put(_deleted("customer", customer["id"]))
    state.emit("customer.deleted", customer)
    return _deleted("customer", customer["id"])


def list_customers(state: State, call: Call) -> dict[str, Any]:
    email = call.get("email")
    return list_of(state, "customer", call, lambda c: not c.get("deleted") and (email is None or c["email"] == email))


# -- products ---------------------------------------------------------------------------------------------------------
def create_product(state: State, call: Call) -> dict[str, Any]:
    name = call.require("name")
    product_id = call.get("id") or new_id("prod_", 14)
    if state.store.get(product_id) is not None:
        raise StripeError(400, f"Product already exists: {product_id}", code="resource_already_exists", param="id")
    product = {
        "id": product_id,
        "object": "product",
        "active": call.boolean("active", True),
        "created": state.now(),
        "default_price": None,
        "description": call.get("description"),
        "images": [],
        "livemode": False,
        "metadata": call.metadata(),
        "name": name,
        "tax_code": None,
        "type": "service",
        "updated": state.now(),
        "url": None,
    }
    _created(state, product)
    if isinstance(call.get("default_price_data"), dict):
        price = new_price(state, call, {**call.get("default_price_data"), "product": product_id}, "default_price_data")
        product["default_price"] = price["id"]
        state.store.put(product)
    return product


def retrieve_product(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "product")


def update_product(state: State, call: Call) -> dict[str, Any]:
    product = retrieve_product(state, call)
    for name in ("name", "description", "default_price"):
        if call.get(name) is not None:
            product[name] = call.get(name)
    if call.get("active") is not None:
        product["active"] = call.boolean("active")
    product["metadata"] = call.metadata(product["metadata"])
    product["updated"] = state.now()
    return state.store.put(product)


def list_products(state: State, call: Call) -> dict[str, Any]:
    active = call.get("active")
    ids = call.get("ids")
    return list_of(
        state,
        "product",
        call,
        lambda p: (active is None or p["active"] == (active == "true")) and (ids is None or p["id"] in ids),
    )


# -- prices -----------------------------------------------------------------------------------------------------------
def new_price(state: State, call: Call, data: dict[str, Any], prefix: str) -> dict[str, Any]:
    currency = data.get("currency")
    if not currency:
        raise StripeError(400, "Missing required param: currency.", code="parameter_missing", param=f"{prefix}currency")
    product_id = data.get("product")
    if product_id is None and isinstance(data.get("product_data"), dict):
        product_id = create_product(state, Call(data["product_data"], {}, call.api_key, call.url))["id"]
    if product_id is None:
        raise StripeError(400, "Missing required param: product.", code="parameter_missing", param=f"{prefix}product")
    state.load(product_id, "product", param=f"{prefix}product")
    unit_amount = data.get("unit_amount")
    if unit_amount is None:
        raise StripeError(400, "Missing required param: unit_amount.", code="parameter_missing", param="unit_amount")
    if not str(unit_amount).isdigit():
        raise StripeError(400, "Invalid integer: unit_amount", code="parameter_invalid_integer", param="unit_amount")
    recurring = data.get("recurring")
    if recurring is not None:
        if recurring.get("interval") not in INTERVALS:
            message = f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}"
            raise StripeError(400, message, code="parameter_invalid", param="recurring[interval]")
        recurring = {
            "interval": recurring["interval"],
            "interval_count": int(recurring.get("interval_count", 1)),
            "meter": None,
            "usage_type": "licensed",
        }
    lookup_key = data.get("lookup_key")
    if lookup_key:
        for other in state.store.list("price", limit=100_000, where=lambda p: p["lookup_key"] == lookup_key)[0]:
            if data.get("transfer_lookup_key") != "true":
                message = f"A price (`{other['id']}`) already uses that lookup key."
                raise StripeError(400, message, code="lookup_key_exists", param="lookup_key")
            other["lookup_key"] = None
            state.store.put(other)
    return _created(
        state,
        {
            "id": new_id("price_", 24),
            "object": "price",
            "active": data.get("active", "true") == "true",
            "billing_scheme": "per_unit",
            "created": state.now(),
            "currency": currency.lower(),
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": {k: str(v) for k, v in (data.get("metadata") or {}).items()},
            "nickname": data.get("nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": data.get("tax_behavior", "unspecified"),
            "type": "recurring" if recurring else "one_time",
            "unit_amount": int(unit_amount),
            "unit_amount_decimal": str(int(unit_amount)),
        },
    )


def create_price(state: State, call: Call) -> dict[str, Any]:
    return new_price(state, call, call.params, "")


def retrieve_price(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "price")


def update_price(state: State, call: Call) -> dict[str, Any]:
    price = retrieve_price(state, call)
    if call.get("active") is not None:
        price["active"] = call.boolean("active")
    for name in ("nickname", "lookup_key"):
        if call.get(name) is not None:
            price[name] = call.get(name) or None
    price["metadata"] = call.metadata(price["metadata"])
    return state.store.put(price)


def list_prices(state: State, call: Call) -> dict[str, Any]:
    product, active, kind = call.get("product"), call.get("active"), call.get("type")
    lookup_keys = call.get("lookup_keys")
    return list_of(
        state,
        "price",
        call,
        lambda p: (
            (product is None or p["product"] == product)
            and (active is None or p["active"] == (active == "true"))
            and (kind is None or p["type"] == kind)
            and (lookup_keys is None or p["lookup_key"] in lookup_keys)
        ),
    )


# -- coupons and promotion codes --------------------------------------------------------------------------------------
def create_coupon(state: State, call: Call) -> dict[str, Any]:
    percent_off, amount_off = call.get("percent_off"), call.get("amount_off")
    if (percent_off is None) == (amount_off is None):
        raise StripeError(400, "You must pass exactly one of percent_off or amount_off.", param="percent_off")
    if amount_off is not None and not call.get("currency"):
        raise StripeError(400, "You must pass currency when passing amount_off.", param="currency")
    duration = call.get("duration", "once")
    coupon_id = call.get("id") or new_id("", 8)
    if state.store.get(coupon_id) is not None:
        raise StripeError(400, "Coupon already exists.", code="resource_already_exists", param="id")
    return _created(
        state,
        {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": call.integer("amount_off"),
            "created": state.now(),
            "currency": (call.get("currency") or "").lower() or None,
            "duration": duration,
            "duration_in_months": call.integer("duration_in_months"),
            "livemode": False,
            "max_redemptions": call.integer("max_redemptions"),
            "metadata": call.metadata(),
            "name": call.get("name"),
            "percent_off": _number(percent_off, "percent_off") if percent_off is not None else None,
            "redeem_by": call.integer("redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        },
    )


def retrieve_coupon(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "coupon")


def create_promotion_code(state: State, call: Call) -> dict[str, Any]:
    promotion = call.get("promotion") or {}
    coupon_id = promotion.get("coupon") if isinstance(promotion, dict) else None
    coupon_id = coupon_id or call.get("coupon")  # API versions before 2025-09-30 took `coupon` at the top level
    if not coupon_id:
        raise StripeError(
            400, "Missing required param: promotion[coupon].", code="parameter_missing", param="promotion"
        )
    state.load(coupon_id, "coupon", param="promotion[coupon]")
    code = call.get("code") or new_id("", 8).upper()
    clash = state.store.list(
        "promotion_code", limit=1, where=lambda p: p["active"] and p["code"].lower() == code.lower()
    )
    if clash[0]:
        raise StripeError(400, "An active promotion code with `code` already exists.", code="resource_already_exists")
    return _created(
        state,
        {
            "id": new_id("promo_", 24),
            "object": "promotion_code",
            "active": call.boolean("active", True),
            "code": code,
            "created": state.now(),
            "customer": call.get("customer"),
            "expires_at": call.integer("expires_at"),
            "livemode": False,
            "max_redemptions": call.integer("max_redemptions"),
            "metadata": call.metadata(),
            "promotion": {"coupon": coupon_id, "type": "coupon"},
            "restrictions": {
                "currency_options": {},
                "first_time_transaction": False,
                "minimum_amount": None,
                "minimum_amount_currency": None,
            },
            "times_redeemed": 0,
        },
    )


def retrieve_promotion_code(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], "promotion_code", "promotion code")


def update_promotion_code(state: State, call: Call) -> dict[str, Any]:
    promo = retrieve_promotion_code(state, call)
    if call.get("active") is not None:
        promo["active"] = call.boolean("active")
    promo["metadata"] = call.metadata(promo["metadata"])
    return state.store.put(promo)


def list_promotion_codes(state: State, call: Call) -> dict[str, Any]:
    code, active, coupon = call.get("code"), call.get("active"), call.get("coupon")
    return list_of(
        state,
        "promotion_code",
        call,
        lambda p: (
            (code is None or p["code"].lower() == code.lower())
            and (active is None or p["active"] == (active == "true"))
            and (coupon is None or p["promotion"]["coupon"] == coupon)
        ),
    )


def redeemable(state: State, promo: dict[str, Any], param: str) -> dict[str, Any]:
    """The coupon behind a promotion code, or Stripe's refusal to apply it."""
    if not promo["active"]:
        raise StripeError(400, "This promotion code is not active.", code="promotion_code_inactive", param=param)
    if promo["expires_at"] is not None and promo["expires_at"] <= state.now():
        raise StripeError(400, "This promotion code has expired.", code="promotion_code_expired", param=param)
    if promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]:
        message = "This promotion code has reached its maximum number of redemptions."
        raise StripeError(400, message, code="promotion_code_max_redemptions", param=param)
    coupon = state.load(promo["promotion"]["coupon"], "coupon")
    if not coupon["valid"]:
        raise StripeError(400, "This coupon is no longer valid.", code="coupon_expired", param=param)
    return coupon


ROUTES = [
    ("POST", "/v1/customers", create_customer),
    ("GET", "/v1/customers", list_customers),
    ("GET", "/v1/customers/{id}", retrieve_customer),
    ("POST", "/v1/customers/{id}", update_customer),
    ("DELETE", "/v1/customers/{id}", delete_customer),
    ("POST", "/v1/products", create_product),
    ("GET", "/v1/products", list_products),
    ("GET", "/v1/products/{id}", retrieve_product),
    ("POST", "/v1/products/{id}", update_product),
    ("POST", "/v1/prices", create_price),
    ("GET", "/v1/prices", list_prices),
    ("GET", "/v1/prices/{id}", retrieve_price),
    ("POST", "/v1/prices/{id}", update_price),
    ("POST", "/v1/coupons", create_coupon),
    ("GET", "/v1/coupons/{id}", retrieve_coupon),
    ("POST", "/v1/promotion_codes", create_promotion_code),
    ("GET", "/v1/promotion_codes", list_promotion_codes),
    ("GET", "/v1/promotion_codes/{id}", retrieve_promotion_code),
    ("POST", "/v1/promotion_codes/{id}", update_promotion_code),
]
