"""The real system as processes (four services and the gateway, as `make up` starts them), called over HTTP and gRPC."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from devstack.stack import REPO_ROOT, SERVICES, Stack, free_port

SIX_TIERS = ["eval-5k", "eval-10k", "eval-25k", "eval-50k", "eval-100k", "eval-200k"]


@pytest.fixture(scope="module")
def stack(database_url, redis_url):
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    running = Stack(
        data_dir=Path(tempfile.mkdtemp(prefix="dynasty-e2e-")),
        ports=ports,
        database_url=database_url,
        redis_url=redis_url,
        log=lambda m: None,
    )
    running.start(timeout=60)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        yield client


def all_programs(http) -> list[dict]:
    """Every page: the test database keeps programs other tests published, so the six may span pages."""
    programs, token = [], None
    while True:
        reply = http.get("/v1/programs", params={"page_size": 100, **({"page_token": token} if token else {})})
        assert reply.status_code == 200
        programs += reply.json()["programs"]
        token = reply.json().get("next_page_token")
        if not token:
            return programs


def test_the_catalogue_lists_the_six_tiers_from_the_challenges_service(http):
    programs = all_programs(http)
    assert [p["id"] for p in programs if p["id"] in SIX_TIERS] == SIX_TIERS
    fifty = next(p for p in programs if p["id"] == "eval-50k")
    assert fifty["price"] == {"amount": "249.00", "currency": "USD"}
    assert fifty["account_size"] == {"amount": "50000.00", "currency": "USD"}
    assert [ph["kind"] for ph in fifty["phases"]] == ["phase_1", "phase_2", "funded"]
    assert fifty["phases"][0]["rule_set"]["drawdown"]["max_loss"] == "4000.00"


def test_one_program_by_id(http):
    reply = http.get("/v1/programs/eval-100k")
    assert reply.status_code == 200
    assert reply.json()["name"] == "$100K Evaluation"


def test_an_unknown_program_is_a_404_problem(http):
    reply = http.get("/v1/programs/eval-7k")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body["status"] == 404 and body["reason"] == "NOT_FOUND" and body["instance"] == "/v1/programs/eval-7k"


def test_a_malformed_id_is_a_400_problem_naming_the_field(http):
    reply = http.get("/v1/programs/Eval%2050K")
    assert reply.status_code == 400
    assert reply.json()["field"] == "program_id"
    reply = http.get("/v1/programs", params={"page_size": "lots"})
    assert reply.status_code == 400 and reply.json()["errors"][0]["field"] == "page_size"


def test_ready_only_when_every_service_and_redis_answer(http):
    reply = http.get("/readyz")
    assert reply.status_code == 200, reply.text
    assert set(reply.json()["checks"]) == {*SERVICES, "redis"}
    assert http.get("/healthz").json() == {"status": "ok"}


def test_openapi_describes_the_routes(http):
    spec = http.get("/openapi.json").json()
    assert {"/v1/programs", "/v1/programs/{program_id}", "/healthz", "/readyz"} <= set(spec["paths"])
    assert http.get("/docs").status_code == 200


def test_the_request_id_reaches_the_service_logs(http, stack):
    http.get("/v1/programs/eval-5k", headers={"X-Request-Id": "trace-me-0123456789"})
    http.get("/v1/programs/no-such-one", headers={"X-Request-Id": "trace-me-0123456789"})
    lines = [json.loads(line) for line in stack.log_tail("challenges", 200).splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "trace-me-0123456789" for line in lines)


def test_the_cli_lists_programs_over_grpc(stack):
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen' / 'python'}"}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "challenges", "list-programs", "--target", stack.target("challenges")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    ids = [p["program_id"] for p in json.loads(result.stdout)["programs"]]
    assert ids[:3] == SIX_TIERS[:3]  # smallest accounts first; other tests' programs are all $50K


def test_stopping_leaves_no_process_behind(database_url, redis_url):
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    own = Stack(
        data_dir=Path(tempfile.mkdtemp(prefix="dynasty-e2e-")),
        ports=ports,
        database_url=database_url,
        redis_url=redis_url,
        log=lambda m: None,
    )
    own.start(timeout=60)
    pids = [p.pid for p in own._processes.values()]
    own.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
