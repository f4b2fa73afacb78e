"""The gateway: REST for the browser under /v1, translated to gRPC; problem JSON for every error; OpenAPI at /docs.

It holds nothing durable. Built by `create_app(settings)`; nothing is constructed at import time.

Access tokens are verified here (gateway.auth) against identity's JWK Set, fetched over gRPC and cached, and the
Redis revocation keys; each service verifies the forwarded token again.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.problems import domain_error_handler, grpc_error_handler, problem, validation_error_handler
from gateway.routers import admin_users, auth, health, kyc, me, programs, stripe_webhooks
from gateway.routers.accounts import router as accounts_router
from gateway.routers.admin_accounts import router as admin_accounts_router
from gateway.routers.funded_agreement import router as funded_agreement_router
from gateway.routers.orders import router as orders_router
from gateway.routers.risk import router as risk_router
from gateway.routers.ws import live as live_websocket
from gateway.routers.ypf_webhooks import router as ypf_webhooks_router
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from gateway.ypf_coalescer import WebhookCoalescer
from libs.domain.errors import DomainError
from libs.platform.auth import JwksSource, TokenVerifier
from libs.platform.logging import request_id_var

log = logging.getLogger(__name__)
REQUEST_ID = "X-Request-Id"


def _ypf_coalescer(settings: GatewaySettings, upstreams: Upstreams) -> WebhookCoalescer:
    """The YourPropFirm webhook route's way to rules.IngestTradeEvents (ADR 0070)."""
    from dynasty.rules.v1 import rules_service_pb2_grpc

    return WebhookCoalescer(
        rules_service_pb2_grpc.RulesServiceStub(upstreams.channels["rules"]),
        max_wait=settings.ypf_webhook_coalesce_ms / 1000,
        max_events=settings.ypf_webhook_coalesce_max,
        timeout=upstreams.timeout,
    )


def create_app(settings: GatewaySettings, *, jwks_source: JwksSource | None = None) -> FastAPI:
    """`jwks_source` replaces identity's GetJwks as the key source (tests sign tokens with their own key)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from libs.platform.auth_grpc import GrpcJwksSource
        from libs.platform.protogen import ensure_generated
        from libs.platform.redis import create_redis

        ensure_generated()
        app.state.settings = settings
        app.state.upstreams = Upstreams(settings.targets(), settings.upstream_timeout_seconds)
        app.state.redis = create_redis(settings.redis_url)
        source = jwks_source or GrpcJwksSource(
            channel=app.state.upstreams.channels["identity"], timeout=settings.upstream_timeout_seconds
        )
        app.state.verifier = TokenVerifier(source, app.state.redis, cache_seconds=settings.jwks_cache_seconds)
        app.state.ypf_coalescer = _ypf_coalescer(settings, app.state.upstreams)
        try:
            yield
        finally:
            await app.state.ypf_coalescer.aclose()  # what is queued goes out before the channels close
            await app.state.upstreams.close()
            await app.state.redis.aclose()

    app = FastAPI(
        title="Dynasty Futures API",
        version="1.0.0",
        description="Challenges, trading accounts, risk and payouts for Dynasty Futures traders and staff.",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        # Take the caller's id if it is sane, else make one; it follows the request into every service's logs.
        incoming = request.headers.get(REQUEST_ID, "")
        rid = incoming if 8 <= len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers[REQUEST_ID] = rid
        return response

    app.add_exception_handler(grpc.aio.AioRpcError, grpc_error_handler)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        reason = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return problem(exc.status_code, str(exc.detail), reason=reason, instance=request.url.path)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "internal error; it has been logged", reason="INTERNAL", instance=request.url.path)

    app.include_router(health.router)
    app.include_router(programs.router)
    app.include_router(auth.router)
    app.include_router(me.router)
    app.include_router(kyc.router)
    app.include_router(admin_users.router)
    app.include_router(stripe_webhooks.router)
    app.include_router(orders_router)
    app.include_router(accounts_router)
    app.include_router(admin_accounts_router)
    app.include_router(funded_agreement_router)
    app.include_router(risk_router)
    app.add_api_websocket_route("/v1/ws", live_websocket)
    app.include_router(ypf_webhooks_router)
    return app
