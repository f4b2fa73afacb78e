"""The HTTP face: YourPropFirm's client API under /client/v1 (X-Client-Key, Idempotency-Key, injected faults), the
simulator's own controls under /_sim (no auth: tests and the devstack drive them), /healthz, and the background
tasks (webhook delivery, the random walk)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.ypf_simulator.config import SimConfig
from devstack.ypf_simulator.market import iso
from devstack.ypf_simulator.platform import ApiError, Platform
from devstack.ypf_simulator.store import Store, dumps
from devstack.ypf_simulator.webhooks import WebhookDispatcher

log = logging.getLogger("ypf_simulator")

Handler = Callable[[Platform, Request, Any], Any]
MAX_PAGE = 1000


def build_app(
    data_dir: Path,
    *,
    client_key: str,
    webhook_url: str | None,
    webhook_secret: str,
    tick_rate: float = 0.0,
    webhook_concurrency: int = 1,
) -> Starlette:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = SimConfig()
    dispatcher = WebhookDispatcher(config, webhook_url, webhook_secret, concurrency=webhook_concurrency)
    platform = Platform(Store(data_dir / "ypf_simulator.sqlite3"), dispatcher, config)
    if tick_rate > 0:
        platform.walk.running, platform.walk.tick_rate = True, tick_rate
    scripts: dict[str, dict[str, Any]] = {}

    def api(handler: Handler, command: str | None = None) -> Callable[[Request], Awaitable[Response]]:
        return _api_endpoint(platform, client_key, handler, command)

    routes = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/client/v1/users", api(_create_user), methods=["POST"]),
        Route("/client/v1/users/{user_id}", api(_get_user), methods=["GET"]),
        Route("/client/v1/users/{user_id}/accounts", api(_create_account), methods=["POST"]),
        Route("/client/v1/accounts/{account_id}", api(_get_account), methods=["GET"]),
        Route("/client/v1/accounts/{account_id}/trades", api(_account_trades), methods=["GET"]),
        Route("/client/v1/accounts/{account_id}/positions", api(_positions), methods=["GET"]),
        Route("/client/v1/accounts/{account_id}/snapshot", api(_snapshot), methods=["GET"]),
        Route("/client/v1/accounts/{account_id}/flatten", api(_flatten, "flatten"), methods=["POST"]),
        Route("/client/v1/accounts/{account_id}/disable", api(_disable, "disable"), methods=["POST"]),
        Route("/client/v1/accounts/{account_id}/enable", api(_enable, "enable"), methods=["POST"]),
        Route("/client/v1/accounts/{account_id}/reset", api(_reset, "reset"), methods=["POST"]),
        Route("/client/v1/trades", api(_all_trades), methods=["GET"]),
        Route("/client/v1/events", api(_events), methods=["GET"]),
        Route("/client/v1/quotes/latest", api(_latest_quotes), methods=["GET"]),
        *_control_routes(platform, scripts),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        walker = asyncio.get_running_loop().create_task(_random_walk(platform))
        try:
            yield
        finally:
            walker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await walker
            await dispatcher.stop()
            platform.store.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.platform = platform
    return app


async def _healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _random_walk(platform: Platform) -> None:
    while True:
        walk = platform.walk
        if walk.running and walk.tick_rate > 0:
            try:
                platform.walk_tick()
            except Exception:  # a bad tick must not end the stream
                log.exception("random walk tick failed")
            await asyncio.sleep(1 / walk.tick_rate)
        else:
            await asyncio.sleep(0.05)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=headers, media_type="application/json")


def _parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        # Decimals, never floats: a price of 5800.25 sent as a JSON number stays exact.
        return json.loads(raw, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON") from None


def _api_endpoint(
    platform: Platform, client_key: str, handler: Handler, command: str | None
) -> Callable[[Request], Awaitable[Response]]:
    config = platform.config

    async def endpoint(request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get("x-client-key", "").encode(), client_key.encode()):
            return _json(401, {"error": "missing or invalid X-Client-Key"})
        raw = await request.body()
        key = request.headers.get("idempotency-key")
        fail = config.fail_next_calls > 0 or config.chance(config.error_rate)
        if config.fail_next_calls > 0:
            config.fail_next_calls -= 1
        if config.slow_seconds > 0 and config.chance(config.slow_rate):
            await asyncio.sleep(config.slow_seconds)
        if fail and config.error_mode == "before":
            status, body, replayed = config.error_status, {"error": "simulated platform outage"}, False
        else:
            status, body, replayed = _answer(platform, request, raw, key, handler)
            if fail:  # carried out, but the answer is lost on the way back
                status, body = config.error_status, {"error": "simulated platform outage"}
        if command is not None:
            _record_command(platform, request, command, key, raw, status, replayed, fail)
        headers = {"Idempotent-Replayed": "true"} if replayed and not fail else None
        return _json(status, body, headers)

    return endpoint


def _answer(
    platform: Platform, request: Request, raw: bytes, key: str | None, handler: Handler
) -> tuple[int, Any, bool]:
    """The handler's answer, or the one remembered under this Idempotency-Key (same key -> same answer)."""
    fingerprint = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + raw).hexdigest()
    use_key = key is not None and request.method == "POST"
    if use_key:
        remembered = platform.store.idempotent_answer("client", key)
        if remembered is not None:
            if remembered[0] != fingerprint:
                return 422, {"error": "Idempotency-Key was already used for a different request"}, False
            return remembered[1], json.loads(remembered[2]), True
    try:
        body = _parse_body(raw)
        with platform.atomic():
            result = handler(platform, request, body)
            status, answer = result if isinstance(result, tuple) else (200, result)
            if use_key:
                platform.store.remember_answer("client", key, fingerprint, status, dumps(answer))
    except ApiError as exc:
        status, answer = exc.status, exc.body
        if use_key and exc.status < 500:  # a refusal is an answer too; the same retry is refused the same way
            with platform.store.transaction():
                platform.store.remember_answer("client", key, fingerprint, status, dumps(answer))
    return status, answer, False


def _record_command(
    platform: Platform,
    request: Request,
    command: str,
    key: str | None,
    raw: bytes,
    status: int,
    replayed: bool,
    failed: bool,
) -> None:
    account_id = request.path_params["account_id"]
    try:
        body = _parse_body(raw)
    except ApiError:
        body = raw.decode(errors="replace")
    with platform.store.transaction():
        platform.store.record_command(
            account_id,
            {
                "command": command,
                "accountId": account_id,
                "idempotencyKey": key,
                "body": body,
                "status": status,
                "replayed": replayed,
                "injectedFault": failed,
                "receivedAt": iso(platform.now()),
            },
        )


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number") from None
    if value < 0 or (maximum is not None and not 1 <= value <= maximum):
        raise ApiError(400, f"{name} must be between {0 if maximum is None else 1} and {maximum or 'any'}")
    return value


# -- /client/v1 handlers (run inside platform.atomic()) --------------------------------------------------------------
def _create_user(platform: Platform, _request: Request, body: Any) -> tuple[int, Any]:
    return 201, platform.create_user(body)


def _get_user(platform: Platform, request: Request, _body: Any) -> Any:
    return platform.user(request.path_params["user_id"])


def _create_account(platform: Platform, request: Request, body: Any) -> tuple[int, Any]:
    return 201, platform.create_account(request.path_params["user_id"], body)


def _get_account(platform: Platform, request: Request, _body: Any) -> Any:
    return platform.public_account(platform.load_account(request.path_params["account_id"]))


def _account_trades(platform: Platform, request: Request, _body: Any) -> Any:
    after = _int_param(request, "after_sequence", 0)
    limit = _int_param(request, "limit", 100, MAX_PAGE)
    return platform.trades(request.path_params["account_id"], after, limit)


def _positions(platform: Platform, request: Request, _body: Any) -> Any:
    return platform.positions(request.path_params["account_id"])


def _snapshot(platform: Platform, request: Request, _body: Any) -> Any:
    return platform.snapshot(request.path_params["account_id"])


def _all_trades(platform: Platform, request: Request, _body: Any) -> Any:
    return platform.all_trades(_int_param(request, "after_cursor", 0), _int_param(request, "limit", 100, MAX_PAGE))


def _events(platform: Platform, request: Request, _body: Any) -> Any:
    types_param = request.query_params.get("types")
    types = [t for t in types_param.split(",") if t] if types_param else None
    return platform.events(_int_param(request, "after_cursor", 0), _int_param(request, "limit", 100, MAX_PAGE), types)


def _latest_quotes(platform: Platform, request: Request, _body: Any) -> Any:
    symbols_param = request.query_params.get("symbols")
    return platform.latest_quotes([s for s in symbols_param.split(",") if s] if symbols_param else None)


def _reason(body: Any) -> Any:
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return (body or {}).get("reason")


def _flatten(platform: Platform, request: Request, body: Any) -> Any:
    _reason(body)
    return platform.flatten(request.path_params["account_id"], uuid.uuid4().hex[:12])


def _reset(platform: Platform, request: Request, body: Any) -> Any:
    _reason(body)
    return platform.reset(request.path_params["account_id"], uuid.uuid4().hex[:12], (body or {}).get("startingBalance"))


def _disable(platform: Platform, request: Request, body: Any) -> Any:
    return platform.set_trading(request.path_params["account_id"], False, _reason(body))


def _enable(platform: Platform, request: Request, body: Any) -> Any:
    return platform.set_trading(request.path_params["account_id"], True, _reason(body))


# -- /_sim controls -------------------------------------------------------------------------------------------------
def _control(handler: Callable[[Request, Any], Any]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = _parse_body(await request.body())
            result = handler(request, body)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            return _json(exc.status, exc.body)
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        status, answer = result if isinstance(result, tuple) else (200, result)
        return _json(status, answer)

    return endpoint


def _control_routes(platform: Platform, scripts: dict[str, dict[str, Any]]) -> list[Route]:
    def config(request: Request, body: Any) -> Any:
        if request.method == "POST":
            if not isinstance(body, dict):
                raise ApiError(400, "body must be a JSON object of knobs")
            platform.config.update(body)
        return platform.config.public()

    def fill(_request: Request, body: Any) -> Any:
        return 201, _do_fill(platform, body)

    def quotes(_request: Request, body: Any) -> Any:
        return _do_quotes(platform, body)

    def walk(request: Request, body: Any) -> Any:
        if request.method == "POST":
            _do_walk(platform, body)
        return platform.walk.public()

    def commands(request: Request, _body: Any) -> Any:
        found = platform.store.commands(request.query_params.get("accountId"))
        wanted = request.query_params.get("command")
        return {"commands": [c for c in found if wanted is None or c["command"] == wanted]}

    def deliveries(request: Request, _body: Any) -> Any:
        dispatcher = platform.dispatcher
        return {"idle": dispatcher.idle, "attempts": dispatcher.public_attempts(request.query_params.get("type"))}

    def programs(_request: Request, body: Any) -> Any:
        with platform.store.transaction():
            return 201, platform.register_program(body)

    async def run_script(_request: Request, body: Any) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get("steps"), list):
            raise ApiError(400, "body must be {steps: [...], background?: bool}")
        script = {"id": f"scr_{uuid.uuid4().hex[:12]}", "status": "running", "results": [], "error": None}
        scripts[script["id"]] = script
        if body.get("background"):
            asyncio.get_running_loop().create_task(_run_steps(platform, body["steps"], script))
            return 202, script
        await _run_steps(platform, body["steps"], script)
        return (200 if script["status"] == "done" else 400), script

    async def raw_webhook(_request: Request, body: Any) -> Any:
        if not isinstance(body, dict) or "body" not in body:
            raise ApiError(400, 'body must be {"body": <JSON value or raw string>, "signature"?: "valid"}')
        payload = body["body"]
        raw = payload.encode() if isinstance(payload, str) else dumps(payload).encode()
        status = await platform.dispatcher.send_once(raw, str(body.get("signature", "valid")))
        return {"status": status}

    def script_status(request: Request, _body: Any) -> Any:
        script = scripts.get(request.path_params["script_id"])
        if script is None:
            raise ApiError(404, "no such script")
        return script

    return [
        Route("/_sim/config", _control(config), methods=["GET", "POST"]),
        Route("/_sim/fills", _control(fill), methods=["POST"]),
        Route("/_sim/quotes", _control(quotes), methods=["POST"]),
        Route("/_sim/walk", _control(walk), methods=["GET", "POST"]),
        Route("/_sim/commands", _control(commands), methods=["GET"]),
        Route("/_sim/deliveries", _control(deliveries), methods=["GET"]),
        Route("/_sim/programs", _control(programs), methods=["POST"]),
        Route("/_sim/webhooks", _control(raw_webhook), methods=["POST"]),
        Route("/_sim/scripts", _control(run_script), methods=["POST"]),
        Route("/_sim/scripts/{script_id}", _control(script_status), methods=["GET"]),
    ]


def _fill_args(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item["accountId"],
        item.get("symbol"),
        item.get("side"),
        item.get("size", item.get("qty")),
        item.get("price"),
        item.get("occurredAt"),
        item.get("orderId"),
    )


def _do_fills(platform: Platform, items: Any) -> Any:
    """Many fills in one transaction, for load: all of them or, if one is refused, none."""
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("accountId"), str) for i in items
    ):
        raise ApiError(400, "fills must be a list of {accountId, symbol, side, size, price?, occurredAt?, orderId?}")
    with platform.atomic():
        return {"trades": [platform.fill(*_fill_args(item)) for item in items]}


def _do_fill(platform: Platform, body: Any) -> Any:
    if isinstance(body, dict) and "fills" in body:
        return _do_fills(platform, body["fills"])
    if not isinstance(body, dict) or not isinstance(body.get("accountId"), str):
        raise ApiError(400, "body must be {accountId, symbol, side, size, price?, occurredAt?, orderId?}")
    with platform.atomic():
        trade = platform.fill(*_fill_args(body))
    positions = platform.positions(body["accountId"])["positions"]
    return {
        "trade": trade,
        "position": next((p for p in positions if p["symbol"] == trade["symbol"]), None),
        "account": platform.snapshot(body["accountId"]),
    }


def _do_quotes(platform: Platform, body: Any) -> Any:
    if not isinstance(body, dict):
        raise ApiError(400, "body must be {symbol, price} or {quotes: [{symbol, price}, ...]}")
    items = body.get("quotes", [body])
    if not isinstance(items, list) or not all(isinstance(q, dict) for q in items):
        raise ApiError(400, "quotes must be a list of {symbol, price}")
    return platform.set_quotes([(q.get("symbol"), q.get("price")) for q in items], body.get("occurredAt"))


def _do_walk(platform: Platform, body: Any) -> None:
    if not isinstance(body, dict):
        raise ApiError(400, "body must be {running?, tickRate?, symbols?, maxTicks?}")
    walk = platform.walk
    symbols = body.get("symbols", walk.symbols)
    if not isinstance(symbols, list) or any(s not in platform.quotes for s in symbols):
        raise ApiError(400, f"symbols must be a list of known symbols: {', '.join(sorted(platform.quotes))}")
    tick_rate = Decimal(str(body.get("tickRate", walk.tick_rate)))
    max_ticks = body.get("maxTicks", walk.max_ticks)
    if tick_rate <= 0 or tick_rate > 1000 or not isinstance(max_ticks, int) or max_ticks < 1:
        raise ApiError(400, "tickRate must be in (0, 1000] per second and maxTicks a positive whole number")
    walk.symbols, walk.tick_rate, walk.max_ticks = list(symbols), float(tick_rate), max_ticks
    if "running" in body:
        walk.running = bool(body["running"])


async def _run_steps(platform: Platform, steps: list[Any], script: dict[str, Any]) -> None:
    """Steps run in order: {"fill": {...}}, {"quote": {...}} or {"quotes": [...]}, {"sleep": seconds},
    {"walk": {...}}, {"config": {...}}. The first refused step stops the script and is reported."""
    try:
        for index, step in enumerate(steps):
            if not isinstance(step, dict) or len(step) != 1:
                raise ApiError(400, f"step {index} must be an object with exactly one action")
            ((action, argument),) = step.items()
            if action == "fill":
                script["results"].append(_do_fill(platform, argument))
            elif action == "quote":
                script["results"].append(_do_quotes(platform, argument))
            elif action == "quotes":
                script["results"].append(_do_quotes(platform, {"quotes": argument}))
            elif action == "sleep":
                await asyncio.sleep(float(Decimal(str(argument))))
                script["results"].append({"slept": str(argument)})
            elif action == "walk":
                _do_walk(platform, argument)
                script["results"].append(platform.walk.public())
            elif action == "config":
                platform.config.update(argument)
                script["results"].append(platform.config.public())
            else:
                raise ApiError(400, f"step {index}: unknown action {action!r}")
        script["status"] = "done"
    except (ApiError, ValueError) as exc:
        script["status"] = "failed"
        script["error"] = exc.body if isinstance(exc, ApiError) else {"error": str(exc)}
