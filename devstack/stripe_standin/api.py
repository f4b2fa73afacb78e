"""The plumbing every Stripe route shares: API-key auth, form decoding, idempotency replay, expansion, errors.

A resource handler is a plain function `(state, call) -> dict`; `route()` wraps it into a Starlette endpoint that
behaves like api.stripe.com around it. Keys starting with `_` in stored objects are the stand-in's private
bookkeeping (for instance a checkout session's line items, which Stripe only shows when expanded) and never leave.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.stripe_standin.errors import StripeError, missing
from devstack.stripe_standin.forms import FormError, parse_form
from devstack.stripe_standin.store import Store, new_id
from devstack.stripe_standin.webhooks import WebhookDispatcher

log = logging.getLogger("stripe_standin")
API_VERSION = "2026-10-28.endive"  # what stripe==16.1.0 pins; events carry the account's version, as Stripe's do
_current_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("request", default=None)


@dataclass
class State:
    store: Store
    dispatcher: WebhookDispatcher
    public_url: str
    api_version: str = API_VERSION
    _unsent: list[tuple[str, str, str]] | None = None

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One request's changes commit together, and its webhooks leave only after the commit: a request that
        fails halfway changes nothing and announces nothing."""
        self._unsent = []
        try:
            with self.store.transaction():
                yield
            for delivery in self._unsent:
                self.dispatcher.enqueue(*delivery)
        finally:
            self._unsent = None

    @staticmethod
    def now() -> int:
        return int(time.time())

    def load(self, object_id: str, kind: str, name: str | None = None, param: str = "id") -> dict[str, Any]:
        found = self.store.get(object_id, kind)
        if found is None:
            raise missing(name or kind.split(".")[-1].replace("_", " "), object_id, param)
        return found

    def emit(self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"object": public(copy.deepcopy(obj))}
        if previous:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": _current_request.get() or {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.store.put(event)
        delivery = (event["id"], event_type, json.dumps(event, indent=2))
        if self._unsent is not None:
            self._unsent.append(delivery)
        else:
            self.dispatcher.enqueue(*delivery)
        return event


@dataclass
class Call:
    params: dict[str, Any]
    path: dict[str, str]
    api_key: str
    url: str

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name) from None

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None:
            return default
        if value not in ("true", "false"):
            raise StripeError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name)
        return value == "true"

    def metadata(self, existing: dict[str, str] | None = None) -> dict[str, str]:
        """Stripe merges metadata on update, and an empty value unsets a key (an empty `metadata` unsets all)."""
        merged = dict(existing or {})
        given = self.params.get("metadata")
        if given == "":
            return {}
        if isinstance(given, dict):
            for key, value in given.items():
                if value == "":
                    merged.pop(key, None)
                else:
                    merged[key] = str(value)
        return merged

    def require(self, name: str) -> Any:
        value = self.params.get(name)
        if value is None or value == "":
            raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
        return value


Handler = Callable[[State, Call], dict[str, Any]]


def public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


def expand(store: Store, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    for path in paths:
        _expand(store, obj, path.split("."))
    return obj


def _expand(store: Store, node: Any, parts: list[str]) -> None:
    if not parts:
        return
    if isinstance(node, list):
        for item in node:
            _expand(store, item, parts)
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head not in node and f"_{head}" in node:  # includable only on request, like checkout line_items
        node[head] = node[f"_{head}"]
    value = node.get(head)
    if isinstance(value, str):
        found = store.get(value)
        if found is None:
            return
        node[head] = value = found
    _expand(store, value, rest)


def list_of(state: State, kind: str, call: Call, where: Callable[[dict[str, Any]], bool] | None = None) -> dict:
    limit = call.integer("limit", 10) or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "This value must be between 1 and 100.", code="parameter_invalid_integer", param="limit")
    created = call.get("created")
    created_filter = _created_filter(created)

    def matches(obj: dict[str, Any]) -> bool:
        return created_filter(obj) and (where is None or where(obj))

    data, has_more = state.store.list(
        kind,
        limit=limit,
        starting_after=call.get("starting_after") or None,
        ending_before=call.get("ending_before") or None,
        where=matches,
    )
    return {"object": "list", "data": data, "has_more": has_more, "url": call.url}


def _created_filter(created: Any) -> Callable[[dict[str, Any]], bool]:
    if created is None:
        return lambda _obj: True
    if isinstance(created, str):
        exact = int(created)
        return lambda obj: obj.get("created") == exact
    bounds = {op: int(v) for op, v in created.items()}
    checks = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return lambda obj: all(checks[op](obj.get("created", 0), v) for op, v in bounds.items() if op in checks)


def _authenticate(request: Request) -> str:
    header = request.headers.get("authorization", "")
    key = ""
    if header.lower().startswith("bearer "):
        key = header[7:].strip()
    elif header.lower().startswith("basic "):  # curl -u sk_test_...:
        try:
            key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except ValueError:
            key = ""
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the Authorization header, using "
            "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not key.startswith("sk_test_"):
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
        raise StripeError(401, f"Invalid API Key provided: {masked}", code="api_key_invalid")
    return key


def route(state: State, method: str, path: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        request_id = new_id("req_", 14)
        idempotency_key = request.headers.get("idempotency-key") if method == "POST" else None
        headers = {"Request-Id": request_id, "Stripe-Version": state.api_version}
        try:
            api_key = _authenticate(request)
            raw = (await request.body()).decode() if method == "POST" else request.url.query
            params = parse_form(raw)
        except StripeError as exc:
            return _json(exc.status, exc.body(), headers)
        except FormError as exc:
            return _json(400, StripeError(400, str(exc), param=exc.key).body(), headers)

        fingerprint = hashlib.sha256(
            json.dumps([method, request.url.path, params], sort_keys=True).encode()
        ).hexdigest()
        if idempotency_key:
            remembered = state.store.idempotent_result(api_key, idempotency_key)
            if remembered is not None:
                if remembered[0] != fingerprint:
                    error = StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first used "
                        f"with. Try using a key other than '{idempotency_key}' if you meant to execute a different "
                        "request.",
                        type_="idempotency_error",
                    )
                    return _json(400, error.body(), headers)
                return Response(
                    remembered[2],
                    remembered[1],
                    media_type="application/json",
                    headers={**headers, "Idempotent-Replayed": "true", "Idempotency-Key": idempotency_key},
                )
            headers["Idempotency-Key"] = idempotency_key

        token = _current_request.set({"id": request_id, "idempotency_key": idempotency_key})
        try:
            call = Call(params=params, path=dict(request.path_params), api_key=api_key, url=request.url.path)
            with state.atomic():
                result = handler(state, call)
            paths = params.get("expand") or []
            if isinstance(paths, str):
                paths = [paths]
            status, body = 200, public(expand(state.store, result, paths))
        except StripeError as exc:
            status, body = exc.status, exc.body()
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            # A parameter of the wrong shape (a string where Stripe expects a hash, say) reached a handler.
            message = f"Invalid request: a parameter has the wrong shape ({type(exc).__name__}: {exc})."
            status, body = 400, StripeError(400, message).body()
        except Exception as exc:  # a bug in the stand-in: answer as Stripe does, and never remember it
            log.exception("stand-in error on %s %s", method, path)
            status, body = 500, StripeError(500, f"Stand-in error: {exc}", type_="api_error").body()
        finally:
            _current_request.reset(token)
        text = json.dumps(body, indent=2)
        if idempotency_key and status < 500:
            state.store.remember_result(api_key, idempotency_key, fingerprint, status, text, state.now())
        return Response(text, status, media_type="application/json", headers=headers)

    return Route(path, endpoint, methods=[method])


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    return Response(json.dumps(body, indent=2), status, media_type="application/json", headers=headers)
