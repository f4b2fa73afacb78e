"""The `dynasty` command against real gRPC servers on free ports.

A small test proto (tests/fixtures/cli_proto) exercises every path of the generic
invocation; the repository's own protos check that the real services are all exposed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from grpc_tools import protoc

from cli.main import main

FIXTURE_PROTO_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "cli_proto"
FIXTURE_PROTO = "dynasty/clitest/v1/clitest_service.proto"


@pytest.fixture(scope="module")
def fixture_gen_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test proto compiled the way `make proto` compiles the real ones."""
    out = tmp_path_factory.mktemp("cli-gen")
    well_known = Path(protoc.__file__).parent / "_proto"
    exit_code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{FIXTURE_PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            FIXTURE_PROTO,
        ]
    )
    assert exit_code == 0
    return out


@pytest.fixture(scope="module")
def clitest_modules(fixture_gen_root: Path) -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    sys.path.insert(0, str(fixture_gen_root))
    from dynasty.clitest.v1 import clitest_service_pb2, clitest_service_pb2_grpc

    yield clitest_service_pb2, clitest_service_pb2_grpc


@pytest.fixture
async def clitest_target(clitest_modules: tuple[types.ModuleType, types.ModuleType]) -> AsyncIterator[str]:
    messages, stubs = clitest_modules

    class ClitestServicer(stubs.ClitestServiceServicer):
        async def Echo(self, request, context):
            seen = {key: value for key, value in context.invocation_metadata() if key.startswith("x-")}
            return messages.EchoResponse(note=request.note, amount=request.amount, at=request.at, metadata=seen)

        async def Fail(self, request, context):
            info = error_details_pb2.ErrorInfo(
                reason=request.reason, domain="clitest.dynasty-futures.com", metadata={"field": "note"}
            )
            detail = any_pb2.Any()
            detail.Pack(info)
            status = status_pb2.Status(code=getattr(code_pb2, request.code), message="asked to fail", details=[detail])
            await context.abort_with_status(rpc_status.to_status(status))

        async def CountTo(self, request, context):
            for number in range(1, request.limit + 1):
                yield messages.CountToResponse(number=number)

    server = grpc.aio.server()
    stubs.add_ClitestServiceServicer_to_server(ClitestServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


async def run_cli(fixture_gen_root: Path, *argv: str) -> int:
    # The CLI is synchronous and blocks; the test server runs on this event loop, so call it from a thread.
    return await asyncio.to_thread(main, list(argv), gen_root=fixture_gen_root, proto_root=FIXTURE_PROTO_ROOT)


async def test_calls_an_rpc_with_json_in_and_pretty_json_out(
    fixture_gen_root: Path, clitest_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {"note": "hello", "amount": "15.625", "at": "2026-03-02T14:30:00Z"}
    exit_code = await run_cli(
        fixture_gen_root,
        "clitest",
        "echo",
        "--json",
        json.dumps(request),
        "--target",
        clitest_target,
        "--metadata",
        "X-Dynasty-Actor-Id=admin-7",
        "--metadata",
        "x-note=a=b",
    )
    output = capsys.readouterr()
    assert exit_code == 0, output.err
    assert json.loads(output.out) == {
        "note": "hello",
        "amount": "15.625",
        "at": "2026-03-02T14:30:00Z",
        "metadata": {"x-dynasty-actor-id": "admin-7", "x-note": "a=b"},
        "unset_counter": 0,
    }
    assert output.out.startswith("{\n  "), "output is indented for people to read"


async def test_takes_the_target_from_the_environment(
    fixture_gen_root: Path,
    clitest_target: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DYNASTY_CLITEST_TARGET", clitest_target)
    exit_code = await run_cli(fixture_gen_root, "clitest", "echo", "--json", '{"note": "via env"}')
    assert exit_code == 0
    assert json.loads(capsys.readouterr().out)["note"] == "via env"


async def test_reads_the_request_from_a_file(
    fixture_gen_root: Path, clitest_target: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request_file = tmp_path / "request.json"
    request_file.write_text('{"note": "from a file"}')
    exit_code = await run_cli(
        fixture_gen_root, "clitest", "echo", "--json", f"@{request_file}", "--target", clitest_target
    )
    assert exit_code == 0
    assert json.loads(capsys.readouterr().out)["note"] == "from a file"


async def test_prints_each_message_of_a_server_stream(
    fixture_gen_root: Path, clitest_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = await run_cli(
        fixture_gen_root, "clitest", "count-to", "--json", '{"limit": 3}', "--target", clitest_target
    )
    assert exit_code == 0
    decoder, text, numbers = json.JSONDecoder(), capsys.readouterr().out.strip(), []
    while text:
        message, end = decoder.raw_decode(text)
        numbers.append(message["number"])
        text = text[end:].strip()
    assert numbers == [1, 2, 3]


async def test_a_grpc_error_prints_code_details_and_reason_and_exits_1(
    fixture_gen_root: Path, clitest_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = await run_cli(
        fixture_gen_root,
        "clitest",
        "fail",
        "--json",
        '{"code": "NOT_FOUND", "reason": "PROGRAM_NOT_FOUND"}',
        "--target",
        clitest_target,
    )
    output = capsys.readouterr()
    assert exit_code == 1
    assert output.out == ""
    assert output.err.splitlines() == [
        "error: NOT_FOUND: asked to fail",
        "reason: PROGRAM_NOT_FOUND (domain: clitest.dynasty-futures.com, field=note)",
    ]


async def test_an_unreachable_service_is_a_grpc_error(
    fixture_gen_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    exit_code = await run_cli(
        fixture_gen_root, "clitest", "echo", "--target", f"127.0.0.1:{closed_port}", "--timeout", "2"
    )
    assert exit_code == 1
    assert capsys.readouterr().err.startswith("error: UNAVAILABLE: ")


@pytest.mark.parametrize(
    ("request_json", "complaint"),
    [
        ("{not json", "invalid --json for dynasty.clitest.v1.EchoRequest"),
        ('{"no_such_field": 1}', 'has no field named "no_such_field"'),
        ('{"at": "yesterday"}', "invalid --json for dynasty.clitest.v1.EchoRequest"),
    ],
)
async def test_bad_json_exits_2_and_sends_nothing(
    fixture_gen_root: Path, capsys: pytest.CaptureFixture[str], request_json: str, complaint: str
) -> None:
    # The target is unroutable on purpose: had the CLI sent anything, it would fail differently (exit 1).
    exit_code = await run_cli(fixture_gen_root, "clitest", "echo", "--json", request_json, "--target", "0.0.0.0:1")
    assert exit_code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and complaint in error


async def test_bad_metadata_exits_2(fixture_gen_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = await run_cli(fixture_gen_root, "clitest", "echo", "--metadata", "no-equals-sign")
    assert exit_code == 2
    assert "--metadata wants key=value" in capsys.readouterr().err


async def test_a_service_without_a_default_address_asks_for_one(
    fixture_gen_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYNASTY_CLITEST_TARGET", raising=False)
    assert await run_cli(fixture_gen_root, "clitest", "echo") == 2
    assert "DYNASTY_CLITEST_TARGET" in capsys.readouterr().err


async def test_help_lists_services_and_rpcs_with_their_comments(
    fixture_gen_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli(fixture_gen_root, "--help") == 0
    top = capsys.readouterr().out
    assert "clitest" in top and "ClitestService exists only for the tests" in top

    # Without a service or an RPC the help is printed too, but as a usage error.
    assert await run_cli(fixture_gen_root) == 2
    assert capsys.readouterr().out == top
    assert await run_cli(fixture_gen_root, "clitest") == 2
    assert "echo" in capsys.readouterr().out

    assert await run_cli(fixture_gen_root, "clitest", "--help") == 0
    service_help = capsys.readouterr().out
    for rpc in ("echo", "fail", "count-to"):
        assert rpc in service_help
    assert "Echo returns the note and amount it was sent" in service_help

    assert await run_cli(fixture_gen_root, "clitest", "echo", "--help") == 0
    rpc_help = capsys.readouterr().out
    assert "at: google.protobuf.Timestamp" in rpc_help
    assert "--metadata" in rpc_help and "--target" in rpc_help and "--timeout" in rpc_help


async def test_an_unknown_rpc_is_a_usage_error(fixture_gen_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli(fixture_gen_root, "clitest", "no-such-rpc") == 2
    assert "invalid choice" in capsys.readouterr().err


A_LOSING_NQ_ROUND_TRIP = {
    "name": "cli_replay_round_trip",
    "rule_set": {
        "start_balance": "50000.00",
        "drawdown": {
            "mode": "intraday_trailing",
            "max_loss": "2500.00",
            "lock": {"kind": "start_plus", "amount": "100.00"},
            "floor_to_start_on_payout": False,
        },
    },
    "events": [
        {
            "type": "fill",
            "at": "2026-02-02T09:00:00-06:00",
            "symbol": "NQ",
            "side": "buy",
            "qty": 1,
            "price": "18000.00",
        },
        {
            "type": "fill",
            "at": "2026-02-02T09:30:00-06:00",
            "symbol": "NQ",
            "side": "sell",
            "qty": 1,
            "price": "17995.00",
        },
    ],
}


async def test_rules_replay_runs_the_replay_tool_on_the_file(
    fixture_gen_root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(A_LOSING_NQ_ROUND_TRIP))
    assert await run_cli(fixture_gen_root, "rules", "replay", str(scenario)) == 0
    verdict = json.loads(capsys.readouterr().out)
    # 5 NQ points lost at $20 a point.
    assert verdict["status"] == "active"
    assert verdict["balance"] == "49900.00"


async def test_rules_replay_passes_on_the_replay_tools_refusal(
    fixture_gen_root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = tmp_path / "empty.json"
    scenario.write_text("{}")
    assert await run_cli(fixture_gen_root, "rules", "replay", str(scenario)) == 2
    assert "replay refused" in capsys.readouterr().err


async def test_rules_replay_says_so_when_the_replay_tool_is_missing(
    fixture_gen_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None in sys.modules makes the import fail as if the module did not exist.
    monkeypatch.setitem(sys.modules, "services.rules.replay", None)
    assert await run_cli(fixture_gen_root, "rules", "replay", "scenario.json") == 2
    assert "services.rules.replay" in capsys.readouterr().err


async def test_calls_the_real_challenges_contract_over_the_wire(capsys: pytest.CaptureFixture[str]) -> None:
    from libs.platform import protogen

    protogen.ensure_generated()
    from dynasty.challenges.v1 import challenges_service_pb2 as messages
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as stubs
    from dynasty.common.v1 import money_pb2

    class Catalogue(stubs.ChallengesServiceServicer):
        async def GetProgram(self, request, context):
            return messages.GetProgramResponse(
                program=messages.Program(
                    program_id=request.program_id,
                    version=request.version,
                    name="Evaluation 50K",
                    price=money_pb2.Money(units=149, nanos=990_000_000, currency_code="USD"),
                    profit_split="0.80",
                )
            )

    server = grpc.aio.server()
    stubs.add_ChallengesServiceServicer_to_server(Catalogue(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        exit_code = await asyncio.to_thread(
            main,
            [
                "challenges",
                "get-program",
                "--json",
                '{"programId": "eval-50k", "version": 2}',
                "--target",
                f"127.0.0.1:{port}",
            ],
        )
    finally:
        await server.stop(grace=None)
    output = capsys.readouterr()
    assert exit_code == 0, output.err
    program = json.loads(output.out)["program"]
    assert program["program_id"] == "eval-50k" and program["version"] == 2
    assert program["price"] == {"units": "149", "nanos": 990000000, "currency_code": "USD"}
    assert program["profit_split"] == "0.80"


def test_every_service_of_the_repository_protos_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    for service in ("identity", "challenges", "rules", "payouts"):
        assert f"\n    {service} " in listed or f"\n    {service}\n" in listed

    assert main(["challenges", "--help"]) == 0
    assert "get-program" in capsys.readouterr().out
