"""gRPC server bootstrap shared by every service: grpc.aio, health, reflection, the error interceptor,
OpenTelemetry, and a graceful shutdown that finishes in-flight calls within the grace period on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.trace import TracerProvider

from libs.platform.auth import TokenVerifier
from libs.platform.grpc_client import message_size_options
from libs.platform.grpc_errors import ErrorMappingInterceptor

log = logging.getLogger(__name__)


# Health's Watch is an `async def` that writes with context.write; the OTel aio interceptor wraps every
# response-streaming handler as an async generator (`async for`), so a traced Watch fails at once with UNKNOWN
# ("'async for' requires an object with __aiter__ method"). A long-lived watch is no useful span anyway.
ALWAYS_UNTRACED = ("/grpc.health.v1.Health/Watch",)


def traced_filter(untraced_methods: Sequence[str]) -> Callable[[grpc.HandlerCallDetails], bool] | None:
    """The OpenTelemetry interceptor's `filter_`: True for a call that gets a span; None (no filter) when every call
    does. A set lookup on the full method name: cheaper per call than composing `filters.method_name` ones."""
    excluded = frozenset(untraced_methods)
    if not excluded:
        return None
    for name in excluded:
        if not name.startswith("/") or name.count("/") != 2:
            raise ValueError(f"untraced method {name!r} is not a full gRPC method name (/package.Service/Method)")
    return lambda details: details.method not in excluded


class ServiceServer:
    """Owns one grpc.aio server. `register` adds servicers; `service_names` lists them for health and reflection.

    `authenticator` verifies the access token each call carries (see grpc_errors); without one every caller is
    anonymous, which only tests of unauthenticated paths should want. `max_message_bytes` raises the receive and
    send limits for a service whose messages carry documents (identity's KYC uploads); None keeps gRPC's defaults.

    Every call gets an OpenTelemetry server span except the methods named in `untraced_methods` (full names,
    "/dynasty.rules.v1.RulesService/IngestTradeEvents"): a high-volume method whose own code traces what matters
    (the rules batch) need not pay for a span, its context and its attributes on each call. `tracer_provider`
    replaces the global one (tests); None uses the global provider. Health's Watch is never traced (ALWAYS_UNTRACED).
    """

    def __init__(
        self,
        service: str,
        *,
        host: str,
        port: int,
        register: Callable[[grpc.aio.Server], Sequence[str]],
        grace_seconds: float = 5.0,
        readiness: Callable[[], Awaitable[bool]] | None = None,
        authenticator: TokenVerifier | None = None,
        max_message_bytes: int | None = None,
        untraced_methods: Sequence[str] = (),
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.service = service
        self._address = f"{host}:{port}"
        self._grace = grace_seconds
        self._readiness = readiness
        self.server = grpc.aio.server(
            interceptors=[
                aio_server_interceptor(
                    tracer_provider=tracer_provider,
                    filter_=traced_filter([*ALWAYS_UNTRACED, *untraced_methods]),
                ),
                ErrorMappingInterceptor(service, authenticator),  # last: it caches its handler per method
            ],
            options=[("grpc.so_reuseport", 0), *message_size_options(max_message_bytes)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._names = list(register(self.server))
        reflection.enable_server_reflection([*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self.port = self.server.add_insecure_port(self._address)
        if self.port == 0:
            raise RuntimeError(f"cannot bind {self._address}")
        self._watch: asyncio.Task | None = None
        # Clients the server's calls use (Redis, the JWKS channel), closed after the last call has finished.
        self.closers: list[Callable[[], Awaitable[None]]] = []

    async def _set_all(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self._names]:
            await self.health.set(name, status)

    async def _watch_readiness(self) -> None:
        """Report NOT_SERVING while the database does not answer, so /readyz and load balancers see it."""
        while True:
            try:
                ok = await asyncio.wait_for(self._readiness(), timeout=3)
            except Exception:
                ok = False
            await self._set_all(ok)
            await asyncio.sleep(2)

    async def start(self) -> None:
        await self.server.start()
        await self._set_all(True)
        if self._readiness is not None:
            self._watch = asyncio.create_task(self._watch_readiness())
        log.info("%s serving gRPC on %s", self.service, self._address)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self._grace)
        for close in self.closers:
            await close()


async def serve_until_signalled(server: ServiceServer, background: Sequence[Callable[[], Awaitable[None]]] = ()):
    """Start, run background loops (the outbox relay), and stop gracefully on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    tasks = [asyncio.create_task(job()) for job in background]
    await stop.wait()
    log.info("%s shutting down (grace %.1fs)", server.service, server._grace)
    for task in tasks:
        task.cancel()
    await server.stop()
