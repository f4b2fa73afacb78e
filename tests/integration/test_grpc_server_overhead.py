"""ServiceServer's per-call machinery over real gRPC (grpc.aio on a free port, a stub RulesService, real Redis for
the token verifier): the error interceptor caches its wrapped handler per method yet still maps errors, sets the
request id and caller and checks the token on every call; `untraced_methods` drops the server span of the listed
methods only.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dynasty.rules.v1 import rules_service_pb2 as pb
from dynasty.rules.v1 import rules_service_pb2_grpc as pb_grpc
from libs.domain.errors import NotFound
from libs.platform.auth import TokenVerifier
from libs.platform.grpc_errors import current_caller, error_info
from libs.platform.grpc_server import ServiceServer, traced_filter
from libs.platform.logging import request_id_var
from libs.platform.redis import create_redis
from libs.platform.service_main import Wiring
from tests.unit.gateway.tokens import TestKeys, tampered

INGEST = "/dynasty.rules.v1.RulesService/IngestTradeEvents"
LIST_VIOLATIONS = "/dynasty.rules.v1.RulesService/ListViolations"
KEYS = TestKeys()


class Stub(pb_grpc.RulesServiceServicer):
    """IngestTradeEvents answers with what the call saw (trailing metadata); the others fail on purpose."""

    def __init__(self) -> None:
        self.gate: asyncio.Event | None = None  # when set, IngestTradeEvents waits for it (to overlap two calls)
        self.entered = 0

    async def IngestTradeEvents(self, request, context):
        self.entered += 1
        if self.gate is not None:
            await self.gate.wait()
        caller = current_caller()
        context.set_trailing_metadata(
            (
                ("seen-request-id", request_id_var.get()),
                ("seen-actor", caller.actor_id),
                ("seen-role", caller.role),
                ("seen-ip", caller.ip or ""),
            )
        )
        return pb.IngestTradeEventsResponse()

    async def ListViolations(self, request, context):
        raise NotFound("account acc-404 is not monitored", reason="ACCOUNT_NOT_FOUND")

    async def GetRiskState(self, request, context):
        raise RuntimeError("boom: a bug, not a refusal")


async def start(**kwargs) -> tuple[ServiceServer, Stub, grpc.aio.Channel]:
    servicer = Stub()

    def register(server):
        pb_grpc.add_RulesServiceServicer_to_server(servicer, server)
        return ["dynasty.rules.v1.RulesService"]

    server = ServiceServer("rules", host="127.0.0.1", port=0, register=register, grace_seconds=0.5, **kwargs)
    await server.start()
    return server, servicer, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")


@pytest.fixture
async def verifier(redis_url):
    redis = create_redis(redis_url)
    yield TokenVerifier(KEYS.jwks_source, redis)
    await redis.aclose()


@pytest.fixture
async def served(verifier):
    server, servicer, channel = await start(authenticator=verifier)
    yield pb_grpc.RulesServiceStub(channel), servicer, channel
    await channel.close()
    await server.stop()


async def seen(stub, metadata=()) -> dict[str, str]:
    call = stub.IngestTradeEvents(pb.IngestTradeEventsRequest(), metadata=metadata, timeout=5)
    await call
    return {k.removeprefix("seen-"): v for k, v in await call.trailing_metadata() if k.startswith("seen-")}


async def test_a_domain_error_maps_to_its_status_and_error_info_on_every_call(served):
    stub, _, _ = served
    for _ in range(3):  # the first call builds the wrapped handler, the next ones reuse it
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListViolations(pb.ListViolationsRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert caught.value.details() == "account acc-404 is not monitored"
        info = error_info(caught.value)
        assert (info.reason, info.domain) == ("ACCOUNT_NOT_FOUND", "rules.dynasty-futures.com")


async def test_an_unexpected_exception_is_internal_with_error_info_on_every_call(served):
    stub, _, _ = served
    for _ in range(3):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetRiskState(pb.GetRiskStateRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert caught.value.details() == "internal error; it has been logged"
        assert "boom" not in caught.value.details()
        info = error_info(caught.value)
        assert (info.reason, info.domain) == ("INTERNAL", "rules.dynasty-futures.com")


async def test_each_call_sees_its_own_request_id_and_client_ip_even_when_they_overlap(served):
    stub, servicer, _ = served
    servicer.gate = asyncio.Event()
    first = asyncio.create_task(seen(stub, (("x-request-id", "req-aaaa"), ("x-dynasty-client-ip", "198.51.100.1"))))
    second = asyncio.create_task(seen(stub, (("x-request-id", "req-bbbb"), ("x-dynasty-client-ip", "198.51.100.2"))))
    for _ in range(200):  # both calls inside the servicer at once, then let them finish
        if servicer.entered == 2:
            break
        await asyncio.sleep(0.01)
    assert servicer.entered == 2
    servicer.gate.set()
    a, b = await first, await second
    assert (a["request-id"], a["ip"]) == ("req-aaaa", "198.51.100.1")
    assert (b["request-id"], b["ip"]) == ("req-bbbb", "198.51.100.2")
    servicer.gate = None
    # A later call without those headers does not inherit an earlier call's values.
    assert await seen(stub) == {"request-id": "-", "actor": "anonymous", "role": "anonymous", "ip": ""}


async def test_the_token_is_verified_on_every_call_not_only_the_first(served):
    stub, _, _ = served
    alice = KEYS.mint("user-alice", "trader")
    bob = KEYS.mint("user-bob", "admin", amr=("pwd", "otp"))
    assert (await seen(stub, (("authorization", f"Bearer {alice}"),)))["actor"] == "user-alice"
    assert (await seen(stub, (("authorization", f"Bearer {bob}"),)))["actor"] == "user-bob"
    assert (await seen(stub, (("authorization", f"Bearer {bob}"),)))["role"] == "admin"
    assert (await seen(stub))["actor"] == "anonymous"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await seen(stub, (("authorization", f"Bearer {tampered(alice)}"),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value).domain == "rules.dynasty-futures.com"
    assert (await seen(stub, (("authorization", f"Bearer {alice}"),)))["actor"] == "user-alice"


async def test_streaming_handlers_are_left_alone_and_health_watch_works(served):
    # Watch used to fail with UNKNOWN: the OTel interceptor wrapped it as an async generator; it is now untraced.
    _, _, channel = served
    health = health_pb2_grpc.HealthStub(channel)
    for _ in range(2):  # the second Watch goes through the cached (untouched) handler
        watch = health.Watch(health_pb2.HealthCheckRequest(service="dynasty.rules.v1.RulesService"), timeout=5)
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()


async def test_an_unknown_method_is_unimplemented_every_time(served):
    _, _, channel = served
    for _ in range(2):
        call = channel.unary_unary("/dynasty.rules.v1.RulesService/NoSuchMethod")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(b"", timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def traced_span_names(untraced_methods) -> list[str]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server, _, channel = await start(untraced_methods=untraced_methods, tracer_provider=provider)
    try:
        stub = pb_grpc.RulesServiceStub(channel)
        await stub.IngestTradeEvents(pb.IngestTradeEventsRequest(), timeout=5)
        await stub.IngestTradeEvents(pb.IngestTradeEventsRequest(), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.ListViolations(pb.ListViolationsRequest(), timeout=5)
    finally:
        await channel.close()
        await server.stop()
    return sorted(span.name for span in exporter.get_finished_spans())


async def test_a_method_listed_as_untraced_gets_no_server_span_and_the_others_keep_theirs():
    assert await traced_span_names([INGEST]) == [LIST_VIOLATIONS]


async def test_without_untraced_methods_every_call_gets_a_server_span():
    assert await traced_span_names(()) == [INGEST, INGEST, LIST_VIOLATIONS]


def test_untraced_methods_must_be_full_method_names():
    assert traced_filter(()) is None
    keep = traced_filter([INGEST])

    class Details:
        def __init__(self, method):
            self.method = method

    assert keep(Details(LIST_VIOLATIONS)) is True
    assert keep(Details(INGEST)) is False
    for wrong in (["IngestTradeEvents"], ["dynasty.rules.v1.RulesService/IngestTradeEvents"], INGEST):
        with pytest.raises(ValueError, match="full gRPC method name"):
            traced_filter(wrong)


def test_services_trace_every_method_unless_their_wiring_says_otherwise():
    assert Wiring(register=lambda server: []).untraced_methods == ()
