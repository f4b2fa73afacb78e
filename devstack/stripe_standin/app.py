"""Assemble the stand-in: Stripe routes, the /_standin/ controls, /healthz, and the webhook dispatcher's lifetime."""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from devstack.stripe_standin import catalog, checkout, events, identity, payments
from devstack.stripe_standin.api import API_VERSION, State, public, route
from devstack.stripe_standin.errors import StripeError
from devstack.stripe_standin.forms import parse_form
from devstack.stripe_standin.store import Store
from devstack.stripe_standin.webhooks import DeliveryConfig, WebhookDispatcher

RESOURCE_MODULES = [identity, catalog, checkout, payments, events]


def build_app(
    data_dir: Path,
    *,
    public_url: str,
    webhook_url: str | None = None,
    webhook_secret: str = "whsec_devstack",  # noqa: S107  the devstack's well-known test secret
    api_version: str = API_VERSION,
    webhook_concurrency: int = 1,
) -> Starlette:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = DeliveryConfig(webhook_url=webhook_url, webhook_secret=webhook_secret, concurrency=webhook_concurrency)
    state = State(
        store=Store(data_dir / "stripe_standin.sqlite3"),
        dispatcher=WebhookDispatcher(config),
        public_url=public_url.rstrip("/"),
        api_version=api_version,
    )
    routes: list[Route] = [Route("/healthz", _healthz, methods=["GET"])]
    for module in _resource_modules():
        routes += [route(state, method, path, handler) for method, path, handler in module.ROUTES]
    routes += _control_routes(state)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await state.dispatcher.start()
        try:
            yield
        finally:
            await state.dispatcher.stop()
            state.store.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.standin = state
    return app


def _resource_modules() -> list[Any]:
    return RESOURCE_MODULES


async def _healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _body(request: Request) -> dict[str, Any]:
    """Controls take JSON from tests and form posts from the hosted pages."""
    raw = (await request.body()).decode()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {}
    return parse_form(raw)


def control(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            body = await _body(request)
            with _state_of(request).atomic():
                result = handler(request, body)
        except StripeError as exc:
            return JSONResponse(exc.body(), exc.status)
        except (ValueError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": {"type": "invalid_request_error", "message": str(exc)}}, 400)
        if isinstance(result, Response):
            return result
        return JSONResponse(public(result))

    return endpoint


def _state_of(request: Request) -> State:
    return request.app.state.standin


def _control_routes(state: State) -> list[Route]:
    def get_config(_request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        return state.dispatcher.config.public()

    def set_config(_request: Request, body: dict[str, Any]) -> dict[str, Any]:
        state.dispatcher.config.update(body)
        return state.dispatcher.config.public()

    def deliveries(_request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        return {"idle": state.dispatcher.idle, "attempts": [asdict(a) for a in state.dispatcher.attempts]}

    def identity_processing(request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        return identity.control_processing(state, request.path_params["id"])

    def identity_verify(request: Request, body: dict[str, Any]) -> Any:
        session = identity.control_verify(state, request.path_params["id"], body.get("verified_outputs"))
        return _back_to_merchant(session, body)

    def identity_requires_input(request: Request, body: dict[str, Any]) -> Any:
        code = body.get("code", "document_unverified_other")
        session = identity.control_requires_input(state, request.path_params["id"], code, body.get("reason"))
        return _back_to_merchant(session, body)

    def identity_page(request: Request, _body: dict[str, Any]) -> Response:
        session = state.load(request.path_params["id"], identity.KIND, "verification session")
        return HTMLResponse(_identity_page(session))

    def checkout_pay(request: Request, body: dict[str, Any]) -> Any:
        session = checkout.pay(
            state,
            request.path_params["id"],
            succeeded=body.get("outcome", "succeeded") == "succeeded",
            email=body.get("email") or None,
            promotion_code=body.get("promotion_code") or None,
        )
        if body.get("redirect") == "true":
            target = session["success_url"] if session["status"] == "complete" else None
            if target:
                return RedirectResponse(target.replace("{CHECKOUT_SESSION_ID}", session["id"]), status_code=303)
            return RedirectResponse(f"/_standin/checkout/pay/{session['id']}?declined=1", status_code=303)
        return session

    def checkout_page(request: Request, _body: dict[str, Any]) -> Response:
        session = state.load(request.path_params["id"], checkout.KIND, "checkout.session")
        return HTMLResponse(_checkout_page(session, "declined" in request.query_params))

    def subscription_renew(request: Request, body: dict[str, Any]) -> Any:
        succeeded = body.get("outcome", "succeeded") == "succeeded"
        return payments.renew_subscription(state, request.path_params["id"], succeeded=succeeded)

    def invoice_pay(request: Request, body: dict[str, Any]) -> Any:
        invoice = state.load(request.path_params["id"], "invoice")
        if invoice["status"] != "open":
            raise StripeError(400, f"Invoice is already {invoice['status']}.", code="invoice_not_open")
        customer = state.store.get(invoice["customer"]) or {}
        succeeded = body.get("outcome", "succeeded") == "succeeded"
        return payments.attempt_invoice_payment(state, invoice, succeeded=succeeded, email=customer.get("email"))

    def charge_dispute(request: Request, body: dict[str, Any]) -> Any:
        amount = body.get("amount")
        return payments.open_dispute(
            state,
            request.path_params["id"],
            reason=body.get("reason", "fraudulent"),
            amount=int(amount) if amount is not None else None,
        )

    def dispute_close(request: Request, body: dict[str, Any]) -> Any:
        return payments.close_dispute_as(state, request.path_params["id"], body.get("status", "lost"))

    def subscription_end(request: Request, _body: dict[str, Any]) -> Any:
        subscription = state.load(request.path_params["id"], "subscription")
        if subscription["status"] == "canceled":
            raise StripeError(400, "The subscription is already canceled.")
        return payments.end_subscription(state, subscription, reason="payment_failed")

    c = control
    return [
        Route("/_standin/config", c(get_config), methods=["GET"]),
        Route("/_standin/config", c(set_config), methods=["POST"]),
        Route("/_standin/deliveries", c(deliveries), methods=["GET"]),
        Route("/_standin/identity/verify/{id}", c(identity_page), methods=["GET"]),
        Route("/_standin/identity/verification_sessions/{id}/processing", c(identity_processing), methods=["POST"]),
        Route("/_standin/identity/verification_sessions/{id}/verify", c(identity_verify), methods=["POST"]),
        Route(
            "/_standin/identity/verification_sessions/{id}/requires_input",
            c(identity_requires_input),
            methods=["POST"],
        ),
        Route("/_standin/checkout/pay/{id}", c(checkout_page), methods=["GET"]),
        Route("/_standin/checkout/sessions/{id}/pay", c(checkout_pay), methods=["POST"]),
        Route("/_standin/subscriptions/{id}/renew", c(subscription_renew), methods=["POST"]),
        Route("/_standin/subscriptions/{id}/end_after_failed_payments", c(subscription_end), methods=["POST"]),
        Route("/_standin/invoices/{id}/pay", c(invoice_pay), methods=["POST"]),
        Route("/_standin/charges/{id}/dispute", c(charge_dispute), methods=["POST"]),
        Route("/_standin/disputes/{id}/close", c(dispute_close), methods=["POST"]),
    ]


def _back_to_merchant(session: dict[str, Any], body: dict[str, Any]) -> Any:
    """The hosted page's buttons send the browser back to the merchant's return_url, as Stripe's page does."""
    if body.get("redirect") == "true" and session.get("_return_url"):
        return RedirectResponse(session["_return_url"], status_code=303)
    return session


def _identity_page(session: dict[str, Any]) -> str:
    sid = html.escape(session["id"])
    base = f"/_standin/identity/verification_sessions/{sid}"
    codes = "".join(f"<option>{html.escape(code)}</option>" for code in identity.LAST_ERROR_CODES)
    return f"""<!doctype html><html><head><title>Verify your identity (Stripe stand-in)</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Verify your identity</h1>
<p>Stripe stand-in for the devstack. Session <code>{sid}</code>, status <b>{html.escape(session["status"])}</b>.</p>
<form method="post" action="{base}/verify"><input type="hidden" name="redirect" value="true">
<button type="submit">Submit a valid document (verified)</button></form>
<form method="post" action="{base}/requires_input"><input type="hidden" name="redirect" value="true">
<select name="code">{codes}</select> <button type="submit">Fail verification (requires_input)</button></form>
</body></html>"""


def _checkout_page(session: dict[str, Any], declined: bool) -> str:
    sid = html.escape(session["id"])
    action = f"/_standin/checkout/sessions/{sid}/pay"
    total = session["amount_total"]
    amount = f"{total // 100}.{total % 100:02d} {html.escape(session['currency'].upper())}"
    promo = (
        '<p><input name="promotion_code" placeholder="Promotion code"></p>' if session["allow_promotion_codes"] else ""
    )
    notice = "<p style='color: #b00'>Your card was declined.</p>" if declined else ""
    if session["status"] != "open":
        return f"<!doctype html><p>Checkout Session {sid} is {html.escape(session['status'])}.</p>"
    return f"""<!doctype html><html><head><title>Checkout (Stripe stand-in)</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Pay {amount}</h1><p>Stripe stand-in checkout, session <code>{sid}</code> ({html.escape(session["mode"])}).</p>
{notice}
<form method="post" action="{action}"><input type="hidden" name="redirect" value="true">
<input type="hidden" name="outcome" value="succeeded">
<p><input name="email" type="email" value="{html.escape(session["customer_email"] or "")}" placeholder="Email"></p>
{promo}<button type="submit">Pay with 4242 4242 4242 4242</button></form>
<form method="post" action="{action}"><input type="hidden" name="redirect" value="true">
<input type="hidden" name="outcome" value="declined">
<button type="submit">Pay with a card that is declined</button></form>
</body></html>"""
