"""What every service's composition root shares: settings, logs, tracing, engine, inbox, outbox relay, serving.

A service's main.py supplies only its own wiring (`wire`), written out as explicit constructor calls.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.domain.clock import Clock, SystemClock
from libs.platform.protogen import ensure_generated
from libs.platform.settings import ServiceSettings


@dataclass
class Wiring:
    """What a service's `wire` returns: servicers to register and event handlers for its inbox.

    `jwks_source` lets a service verify access tokens from its own keys (identity); the others leave it None and
    fetch identity's JWK Set over gRPC.
    """

    register: Callable[[grpc.aio.Server], Sequence[str]]
    event_handlers: Mapping[str, Callable] = field(default_factory=dict)
    jwks_source: Callable[[], Awaitable[dict]] | None = None
    # Raised gRPC message limits for a service whose messages carry documents (identity); None keeps gRPC's defaults.
    max_message_bytes: int | None = None
    # Full gRPC method names ("/dynasty.rules.v1.RulesService/IngestTradeEvents") that get no per-call server span:
    # high-volume calls whose own code traces what matters. Every other call keeps its span.
    untraced_methods: Sequence[str] = ()


@dataclass
class Runtime:
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    redis: Redis | None = None  # always set by build_server (Redis is required); None only in hand-built runtimes


class MissingSetting(RuntimeError):
    """A setting the service cannot run without; raised at start so the process fails fast and says why."""


def require_redis_url(settings: ServiceSettings) -> str:
    # Without Redis a service could verify signatures but not revocation: a suspended user's token would keep
    # working until it expired. That is not a degraded mode we accept, so a service refuses to start.
    if not settings.redis_url:
        raise MissingSetting(
            "REDIS_URL is not set: services need Redis to check access-token revocation (suspension, logout). "
            "Set REDIS_URL (or DYNASTY_REDIS_URL), e.g. redis://127.0.0.1:6379/0."
        )
    return settings.redis_url


class BackgroundLoop(Protocol):
    """A loop that runs beside the gRPC server (a job worker, a poller) until told to stop."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


def _none() -> Sequence:
    return ()


def run_service(
    service: str,
    wire: Callable[[Runtime], Wiring],
    *,
    settings_class: type[ServiceSettings] = ServiceSettings,
    loops: Callable[[], Sequence[BackgroundLoop]] = _none,
    closers: Callable[[], Sequence[Callable[[], Awaitable[None]]]] = _none,
) -> None:
    """Run a service until SIGTERM/SIGINT. `loops` and `closers` are read after `wire` has run (a service's wiring
    builds its workers), then the loops run beside the outbox relay and everything is stopped and closed on exit."""
    ensure_generated()
    settings = settings_class()
    from libs.platform.logging import configure_logging
    from libs.platform.telemetry import configure_tracing

    configure_logging(service, settings.log_level)
    configure_tracing(service, settings.otel_exporter)
    try:
        require_redis_url(settings)
    except MissingSetting as exc:
        print(f"{service}: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    asyncio.run(_serve(service, settings, wire, loops, closers))


async def build_server(service: str, settings: ServiceSettings, wire: Callable[[Runtime], Wiring]):
    """Build (not start) the server and its relay; also used by tests to run a service in-process."""
    from dynasty.events.v1 import events_service_pb2_grpc
    from libs.platform.auth import TokenVerifier
    from libs.platform.auth_grpc import GrpcJwksSource
    from libs.platform.db import create_engine, session_factory
    from libs.platform.event_sender import GrpcEventSender
    from libs.platform.grpc_server import ServiceServer
    from libs.platform.inbox import InboxEventsServicer
    from libs.platform.outbox import OutboxRelay
    from libs.platform.redis import create_redis

    redis_url = require_redis_url(settings)
    engine = create_engine(settings.database_url, service)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=SystemClock(),
        redis=create_redis(redis_url),
    )
    wiring = wire(runtime)
    # Every call's bearer token is verified here again (defence in depth), from identity's keys: identity passes
    # its own key source; the others fetch the JWK Set from identity over gRPC and cache it.
    grpc_jwks = None if wiring.jwks_source is not None else GrpcJwksSource(settings.target_for("identity"))
    authenticator = TokenVerifier(wiring.jwks_source or grpc_jwks, runtime.redis)
    inbox = InboxEventsServicer(runtime.sessions, service, wiring.event_handlers)

    def register(server: grpc.aio.Server) -> list[str]:
        names = list(wiring.register(server))
        events_service_pb2_grpc.add_EventsServiceServicer_to_server(inbox, server)
        return [*names, "dynasty.events.v1.EventsService"]

    async def database_answers() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    server = ServiceServer(
        service,
        host=settings.grpc_host,
        port=settings.port_for(service),
        register=register,
        grace_seconds=settings.grace_seconds,
        readiness=database_answers,
        authenticator=authenticator,
        max_message_bytes=wiring.max_message_bytes,
        untraced_methods=wiring.untraced_methods,
    )
    if grpc_jwks is not None:
        server.closers.append(grpc_jwks.close)
    server.closers.append(runtime.redis.aclose)
    targets = {name: settings.target_for(name) for name in ("identity", "challenges", "rules", "payouts")}
    sender = GrpcEventSender(targets)
    relay = OutboxRelay(engine, schema=service, send=sender, poll_seconds=settings.outbox_poll_seconds)
    return server, relay, sender, engine


async def _serve(
    service: str,
    settings: ServiceSettings,
    wire: Callable[[Runtime], Wiring],
    loops: Callable[[], Sequence[BackgroundLoop]] = _none,
    closers: Callable[[], Sequence[Callable[[], Awaitable[None]]]] = _none,
) -> None:
    from libs.platform.grpc_server import serve_until_signalled

    server, relay, sender, engine = await build_server(service, settings, wire)
    extra = list(loops())
    try:
        await serve_until_signalled(server, background=[relay.run, *(loop.run for loop in extra)])
    finally:
        for loop in extra:
            loop.stop()
        relay.stop()
        for close in closers():
            await close()
        await sender.close()
        await engine.dispose()
