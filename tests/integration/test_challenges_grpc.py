"""The challenges service over real gRPC (in-process server, real PostgreSQL and Redis): status codes, ErrorInfo,
and the service's own check of the caller's access token (real tokens from a test ES256 key; the verifier is the
real one, only its key source is the test's).
"""

import dataclasses
import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.stack import free_port
from dynasty.challenges.v1 import challenges_service_pb2 as pb
from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
from dynasty.common.v1 import money_pb2
from libs.platform.grpc_errors import error_info
from libs.platform.service_main import MissingSetting, build_server
from libs.platform.settings import ServiceSettings
from services.challenges.main import wire
from tests.unit.challenges.factories import rule_set
from tests.unit.gateway.tokens import TestKeys, tampered

KEYS = TestKeys()


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"), ("x-request-id", "req-12345678"))


ADMIN = bearer(KEYS.mint("admin-7", "admin", amr=("pwd", "otp")))


def wire_with_test_keys(runtime):
    return dataclasses.replace(wire(runtime), jwks_source=KEYS.jwks_source)


@pytest.fixture
async def stub(database_url, redis_url):
    settings = ServiceSettings(DATABASE_URL=database_url, REDIS_URL=redis_url, grpc_port=free_port())
    server, _relay, sender, engine = await build_server("challenges", settings, wire_with_test_keys)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield pb_grpc.ChallengesServiceStub(channel), channel
    await channel.close()
    await server.stop()
    await sender.close()
    await engine.dispose()


def request(program_id: str, request_id: str, rs: dict | None = None) -> pb.CreateProgramVersionRequest:
    return pb.CreateProgramVersionRequest(
        request_id=request_id,
        program_id=program_id,
        name="gRPC 50K",
        account_size=money_pb2.Money(units=50000, currency_code="USD"),
        price=money_pb2.Money(units=99, nanos=500_000_000, currency_code="USD"),
        profit_split="0.85",
        phases=[pb.Phase(kind=pb.PHASE_KIND_PHASE_1, rule_set_json=json.dumps(rs or rule_set()))],
    )


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


async def test_list_and_get_answer_with_exact_money(stub):
    s, _ = stub
    listed = await s.ListPrograms(pb.ListProgramsRequest(page_size=200), timeout=5)
    fifty = next(p for p in listed.programs if p.program_id == "eval-50k")
    assert (fifty.price.units, fifty.price.nanos, fifty.price.currency_code) == (249, 0, "USD")
    got = await s.GetProgram(pb.GetProgramRequest(program_id="eval-50k"), timeout=5)
    assert got.program.version_id == fifty.version_id
    assert json.loads(got.program.phases[0].rule_set_json)["start_balance"] == "50000.00"


async def test_unknown_program_is_not_found_with_a_reason(stub):
    s, _ = stub
    error = await rpc_error(s.GetProgram(pb.GetProgramRequest(program_id="nothing-here"), timeout=5))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert error_info(error).reason == "NOT_FOUND"
    assert error_info(error).domain == "challenges.dynasty-futures.com"


async def test_malformed_id_and_tampered_page_token_are_invalid_argument(stub):
    s, _ = stub
    error = await rpc_error(s.GetProgram(pb.GetProgramRequest(program_id="../etc"), timeout=5))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).metadata["field"] == "program_id"
    error = await rpc_error(s.ListPrograms(pb.ListProgramsRequest(page_token="bm90IGEgdG9rZW4"), timeout=5))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).metadata["field"] == "page_token"


async def test_publishing_without_a_token_is_refused(stub, unique):
    s, _ = stub
    error = await rpc_error(s.CreateProgramVersion(request(f"g-{unique}", f"r-{unique}"), timeout=5))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_trader_token_may_not_publish(stub, unique):
    s, _ = stub
    trader = bearer(KEYS.mint(f"trader-{unique}", "trader"))
    error = await rpc_error(s.CreateProgramVersion(request(f"g-{unique}", f"r-{unique}"), metadata=trader, timeout=5))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_tampered_token_is_unauthenticated_even_claiming_admin(stub, unique):
    s, _ = stub
    forged = bearer(tampered(KEYS.mint(f"trader-{unique}", "trader")))
    error = await rpc_error(s.CreateProgramVersion(request(f"g-{unique}", f"r-{unique}"), metadata=forged, timeout=5))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "UNAUTHENTICATED"
    # Nothing was published under the forged identity.
    missing = await rpc_error(s.GetProgram(pb.GetProgramRequest(program_id=f"g-{unique}"), timeout=5))
    assert missing.code() is grpc.StatusCode.NOT_FOUND


async def test_the_old_unsigned_actor_headers_grant_nothing(stub, unique):
    s, _ = stub
    claimed = (("x-dynasty-actor-id", "admin-7"), ("x-dynasty-actor-role", "admin"))
    error = await rpc_error(s.CreateProgramVersion(request(f"g-{unique}", f"r-{unique}"), metadata=claimed, timeout=5))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_an_admin_publishes_and_a_bad_rule_set_is_refused_naming_the_field(stub, unique):
    s, _ = stub
    created = await s.CreateProgramVersion(request(f"g-{unique}", f"r-{unique}"), metadata=ADMIN, timeout=5)
    assert created.program.version == 1
    assert (created.program.price.units, created.program.price.nanos) == (99, 500_000_000)
    bad = rule_set()
    bad["max_contracts"]["enforcement"] = "shrug"
    error = await rpc_error(
        s.CreateProgramVersion(request(f"g-{unique}", f"r2-{unique}", bad), metadata=ADMIN, timeout=5)
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(error)
    assert info.reason == "INVALID_RULE_SET"
    assert info.metadata["field"] == "phases[0].rule_set.max_contracts.enforcement"


async def test_health_reports_serving_for_the_service(stub):
    _, channel = stub
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="dynasty.challenges.v1.ChallengesService"), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_service_refuses_to_start_without_redis(database_url, monkeypatch):
    # `make test` may run with REDIS_URL pointing at a real server; this test is about its absence.
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DYNASTY_REDIS_URL", raising=False)
    settings = ServiceSettings(DATABASE_URL=database_url, grpc_port=free_port())
    with pytest.raises(MissingSetting, match="REDIS_URL"):
        await build_server("challenges", settings, wire)


async def test_a_suspended_admins_token_is_permission_denied(stub, redis_url, unique):
    from libs.platform.redis import create_redis
    from tests.unit.gateway.tokens import suspend

    s, _ = stub
    admin_id = f"admin-{unique}"
    token = KEYS.mint(admin_id, "admin", amr=("pwd", "otp"))
    redis = create_redis(redis_url)
    try:
        await suspend(redis, admin_id)
    finally:
        await redis.aclose()
    error = await rpc_error(
        s.CreateProgramVersion(request(f"g-{unique}", f"r-{unique}"), metadata=bearer(token), timeout=5)
    )
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "suspended" in error.details()
