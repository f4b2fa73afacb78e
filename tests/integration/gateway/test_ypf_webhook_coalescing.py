"""POST /v1/webhooks/yourpropfirm: concurrent deliveries reach rules as one IngestTradeEvents call (ADR 0070).

The gateway runs in-process (its real lifespan, real Redis) in front of a fake RulesService on a real gRPC server:
the real servicer's IngestTradeEvents (signature check and envelope parsing, which refuse a WHOLE request for one bad
event) with the real error interceptor, and a recorder instead of the rules engine that answers each event with the
outcome its envelope names, so each delivery can tell its own answer from its neighbours'.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager

import grpc
import pytest

from dynasty.rules.v1 import rules_service_pb2_grpc as pb_grpc
from libs.domain.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from libs.platform.grpc_errors import ErrorMappingInterceptor
from services.rules.adapters.grpc.servicer import RulesServicer
from services.rules.application.ingest_trade_events import IngestResult
from tests.integration.gateway.conftest import gateway_settings, running_gateway

SECRET = "ypf_coalescing_whsec"
PATH = "/v1/webhooks/yourpropfirm"
# What the fake refuses a whole request with when one of its envelopes carries {"refuse": <name>}.
REFUSALS = {
    "PERMISSION_DENIED": lambda: PermissionDenied("event refused by the fake", reason="BAD_SIGNATURE"),
    "FAILED_PRECONDITION": lambda: FailedPrecondition("event refused by the fake", reason="NOT_READY"),
    "INVALID_ARGUMENT": lambda: InvalidArgument("event refused by the fake", field="events"),
}


class FakeRules(RulesServicer):
    def __init__(self) -> None:
        super().__init__(
            ingest=None,
            get_risk_state=None,
            list_violations=None,
            list_quarantined=None,
            replay_account=None,
            review_violation=None,
            import_news=None,
            webhook_secret=lambda: SECRET,
            submit_events=self._submit,
        )
        self.calls: list[tuple[list[str], dict[str, str]]] = []  # (event ids, call metadata), in arrival order
        self.unavailable_for: set[str] = set()  # a call carrying any of these ids fails UNAVAILABLE
        self.gate: asyncio.Event | None = None  # when set, calls wait for it before answering

    async def IngestTradeEvents(self, request, context):
        envelopes = [json.loads(e.body) for e in request.events]
        self.calls.append(([e["id"] for e in envelopes], dict(context.invocation_metadata() or ())))
        if any(e["id"] in self.unavailable_for for e in envelopes):
            await context.abort(grpc.StatusCode.UNAVAILABLE, "rules is restarting")
        for envelope in envelopes:
            if "refuse" in envelope:
                raise REFUSALS[envelope["refuse"]]()
        if self.gate is not None:
            await self.gate.wait()
        return await super().IngestTradeEvents(request, context)

    async def _submit(self, parsed):
        return [IngestResult(e.provider_event_id, e.payload.get("outcome", "applied")) for e in parsed]

    def calls_with(self, ids) -> list[tuple[list[str], dict[str, str]]]:
        return [call for call in self.calls if set(call[0]) & set(ids)]


@pytest.fixture(scope="module")
async def rules():
    fake = FakeRules()
    server = grpc.aio.server(interceptors=[ErrorMappingInterceptor("rules")])
    pb_grpc.add_RulesServiceServicer_to_server(fake, server)
    fake.target = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    await server.start()
    yield fake
    await server.stop(0)


@asynccontextmanager
async def gateway(redis_url, rules, keys, *, coalesce_ms: float, coalesce_max: int = 200):
    settings = gateway_settings(
        redis_url,
        rules.target,
        yourpropfirm_webhook_secret=SECRET,
        ypf_webhook_coalesce_ms=coalesce_ms,
        ypf_webhook_coalesce_max=coalesce_max,
    )
    clients = running_gateway(settings, keys)
    client = await anext(clients)
    try:
        yield client
    finally:
        await clients.aclose()


@pytest.fixture(scope="module")
async def coalescing(redis_url, rules, keys):
    """20 ms: long enough that deliveries started together on a busy machine still meet in one group."""
    async with gateway(redis_url, rules, keys, coalesce_ms=20) as client:
        yield client


@pytest.fixture(scope="module")
async def by_count(redis_url, rules, keys):
    """A group goes when 2 are queued; the 10 s wait never decides it within a test."""
    async with gateway(redis_url, rules, keys, coalesce_ms=10_000, coalesce_max=2) as client:
        yield client


@pytest.fixture(scope="module")
async def one_by_one(redis_url, rules, keys):
    async with gateway(redis_url, rules, keys, coalesce_ms=0) as client:
        yield client


def envelope(event_id: str, **fields) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "position",
            "accountId": "acct-coalesce",
            "sequence": 1,
            "cursor": 1,
            "occurredAt": "2031-03-04T15:00:00.000000Z",
            "data": {"symbol": "ES", "type": "flat"},
            **fields,
        }
    ).encode()


def headers(body: bytes, request_id: str) -> dict[str, str]:
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"x-ypf-signature": f"t={t},v1={mac}", "content-type": "application/json", "x-request-id": request_id}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def deliver(http, body: bytes, request_id: str | None = None):
    return await http.post(PATH, content=body, headers=headers(body, request_id or new_id("req")))


async def deliver_all(http, bodies: list[bytes], request_ids: list[str] | None = None):
    request_ids = request_ids or [new_id("req") for _ in bodies]
    return await asyncio.gather(*(deliver(http, b, r) for b, r in zip(bodies, request_ids, strict=True)))


async def until(predicate, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.002)


async def test_concurrent_deliveries_reach_rules_as_fewer_calls_each_with_its_own_outcome(coalescing, rules, caplog):
    outcomes = ["applied", "recorded", "quarantined", "duplicate"] * 3
    ids = [new_id("evt") for _ in outcomes]
    request_ids = [new_id("req") for _ in outcomes]
    bodies = [envelope(i, outcome=o) for i, o in zip(ids, outcomes, strict=True)]
    with caplog.at_level(logging.DEBUG, logger="gateway.ypf_coalescer"):
        replies = await deliver_all(coalescing, bodies, request_ids)

    assert [r.status_code for r in replies] == [200] * len(ids)
    assert [r.json() for r in replies] == [{"received": True, "outcome": o} for o in outcomes]
    calls = rules.calls_with(ids)
    assert len(calls) < len(ids) / 2, [c[0] for c in calls]  # 12 deliveries, 1 call here (2 on a very busy machine)
    assert sorted(i for call in calls for i in call[0]) == sorted(ids)  # each event exactly once
    # Each call carries the metadata of its group's first delivery; the others' request ids are in the DEBUG line.
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.ypf_coalescer"]
    for event_ids, metadata in calls:
        carried = [request_ids[ids.index(i)] for i in event_ids]
        assert metadata["x-request-id"] == carried[0]
        line = next(line for line in lines if f"as request {carried[0]}," in line)
        assert line.endswith("carrying requests " + ",".join(carried))


async def test_a_full_group_goes_at_once_and_several_calls_can_be_in_flight(by_count, rules):
    rules.gate = asyncio.Event()  # rules holds every call until the gate opens
    try:
        first = [new_id("evt") for _ in range(2)]
        held = asyncio.gather(*(deliver(by_count, envelope(i)) for i in first))
        await until(lambda: rules.calls_with(first))  # 2 queued: sent without waiting out the 10 s
        second = [new_id("evt") for _ in range(2)]
        also_held = asyncio.gather(*(deliver(by_count, envelope(i)) for i in second))
        # The next group goes while the first call is still awaited: calls are not serialised.
        await until(lambda: rules.calls_with(second))
        assert not held.done()
        assert [sorted(c[0]) for c in rules.calls_with(first + second)] == [sorted(first), sorted(second)]
    finally:
        rules.gate.set()
        rules.gate = None
    replies = await held + await also_held
    assert [r.json() for r in replies] == [{"received": True, "outcome": "applied"}] * 4


async def expected_alone(one_by_one, bad: dict) -> tuple[int, str, str]:
    """What a delivery of this bad event gets without coalescing (status, reason, detail)."""
    reply = await deliver(one_by_one, envelope(new_id("evt"), **bad))
    problem = reply.json()
    return reply.status_code, problem["reason"], problem["detail"]


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "nonsense"},  # malformed: the real parser refuses the request, INVALID_ARGUMENT
        {"refuse": "PERMISSION_DENIED"},
        {"refuse": "FAILED_PRECONDITION"},
        {"refuse": "INVALID_ARGUMENT"},
    ],
    ids=["malformed", "permission-denied", "failed-precondition", "invalid-argument"],
)
async def test_a_group_with_one_refused_event_answers_each_delivery_as_if_alone(
    bad, coalescing, one_by_one, rules, redis
):
    status, reason, detail = await expected_alone(one_by_one, bad)
    assert status in (400, 403, 409)
    good = [new_id("evt") for _ in range(4)]
    bad_id = new_id("evt")
    ids = [*good[:2], bad_id, *good[2:]]
    request_ids = [new_id("req") for _ in ids]
    bodies = [envelope(i, **(bad if i == bad_id else {"outcome": "recorded"})) for i in ids]
    replies = dict(zip(ids, await deliver_all(coalescing, bodies, request_ids), strict=True))

    for event_id in good:
        assert replies[event_id].status_code == 200
        assert replies[event_id].json() == {"received": True, "outcome": "recorded"}
    refused = replies[bad_id].json()
    assert (replies[bad_id].status_code, refused["reason"], refused["detail"]) == (status, reason, detail)
    # The refused group, then each of its events alone, with its own delivery's request id.
    calls = rules.calls_with(ids)
    assert len(calls[0][0]) > 1
    singles = [c for c in calls if len(c[0]) == 1]
    assert sorted(c[0][0] for c in singles) == sorted(ids)
    for (event_id,), metadata in singles:
        assert metadata["x-request-id"] == request_ids[ids.index(event_id)]
    # The refused one is not marked seen (a redelivery is refused again); the applied ones are.
    assert await redis.exists(f"ypf:webhook:seen:{bad_id}") == 0
    assert await redis.exists(*(f"ypf:webhook:seen:{i}" for i in good)) == len(good)


async def test_a_lone_delivery_is_answered_within_a_few_ms_of_max_wait(coalescing):
    max_wait = 0.020
    elapsed = []
    for _ in range(3):
        started = time.perf_counter()
        reply = await deliver(coalescing, envelope(new_id("evt")))
        elapsed.append(time.perf_counter() - started)
        assert reply.json() == {"received": True, "outcome": "applied"}
    assert min(elapsed) >= max_wait - 0.001  # it did wait for company
    assert min(elapsed) < max_wait + 0.010, elapsed  # and not much longer (HTTP, Redis and gRPC included)


async def test_unavailable_rules_fails_every_delivery_of_the_group_and_a_redelivery_is_forwarded(
    coalescing, rules, redis
):
    ids = [new_id("evt") for _ in range(3)]
    bodies = [envelope(i) for i in ids]
    rules.unavailable_for.update(ids)
    try:
        replies = await deliver_all(coalescing, bodies)
    finally:
        rules.unavailable_for.difference_update(ids)

    assert [r.status_code for r in replies] == [503] * 3
    assert {r.json()["reason"] for r in replies} == {"UNAVAILABLE"}
    failed = rules.calls_with(ids)
    groups = {tuple(sorted(c[0])) for c in failed}  # the channel's own retries of UNAVAILABLE repeat a group
    assert max(len(g) for g in groups) > 1  # coalesced: not one call per delivery
    assert sorted(i for g in groups for i in g) == sorted(ids)  # not split into single calls: not an event's fault
    assert await redis.exists(*(f"ypf:webhook:seen:{i}" for i in ids)) == 0

    replies = await deliver_all(coalescing, bodies)  # the platform's retries
    assert [r.json() for r in replies] == [{"received": True, "outcome": "applied"}] * 3
    assert sorted(i for c in rules.calls_with(ids)[len(failed) :] for i in c[0]) == sorted(ids)


async def test_coalescing_0_ms_sends_one_call_per_delivery(one_by_one, rules):
    ids = [new_id("evt") for _ in range(6)]
    request_ids = [new_id("req") for _ in ids]
    replies = await deliver_all(one_by_one, [envelope(i, outcome="quarantined") for i in ids], request_ids)

    assert [r.json() for r in replies] == [{"received": True, "outcome": "quarantined"}] * 6
    calls = rules.calls_with(ids)
    assert sorted(c[0] for c in calls) == sorted([i] for i in ids)
    for (event_id,), metadata in calls:
        assert metadata["x-request-id"] == request_ids[ids.index(event_id)]


async def test_a_duplicate_is_still_acknowledged_without_reaching_rules(coalescing, rules):
    body = envelope(new_id("evt"))
    first, again = await deliver(coalescing, body), await deliver(coalescing, body)
    assert first.json() == {"received": True, "outcome": "applied"}
    assert again.json() == {"received": True, "duplicate": True}
    assert len(rules.calls_with([json.loads(body)["id"]])) == 1
