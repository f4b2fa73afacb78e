"""The `dynasty` command: every RPC of every service, built from the proto descriptors.

    dynasty <service> <rpc> [--json '{...}'] [--target host:port] [--timeout S] [--metadata key=value]
    dynasty rules replay FILE.json

Exit codes: 0 success, 1 the server answered with an error, 2 the command line or its JSON is wrong.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc

from cli.catalog import RpcCommand, ServiceCommands, build_catalog, describe_fields, import_generated_modules
from cli.invoke import BadRequestInput, call, describe_rpc_error, parse_metadata, parse_request, to_json
from cli.proto_comments import ProtoComments

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO_ROOT / "proto"

# DESIGN.md "Local ports"; DYNASTY_<SERVICE>_TARGET overrides each.
DEFAULT_TARGETS = {
    "identity": "127.0.0.1:50051",
    "challenges": "127.0.0.1:50052",
    "rules": "127.0.0.1:50053",
    "payouts": "127.0.0.1:50054",
}
DEFAULT_TIMEOUT_SECONDS = 30.0
EXIT_OK, EXIT_RPC_ERROR, EXIT_USAGE = 0, 1, 2
REPLAY_SERVICE, REPLAY_COMMAND, REPLAY_MODULE = "rules", "replay", "services.rules.replay"


def main(argv: list[str] | None = None, *, gen_root: Path | None = None, proto_root: Path | None = None) -> int:
    """Run the command line `argv`; `gen_root`/`proto_root` point tests at other generated code."""
    if gen_root is None:
        from libs.platform import protogen  # regenerates gen/python when the .proto files changed

        protogen.ensure_generated()
        gen_root = protogen.GEN_ROOT
    catalog = build_catalog(import_generated_modules(gen_root), ProtoComments(proto_root or PROTO_ROOT))
    parser = build_parser(catalog)
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:  # argparse exits on --help and on bad usage
        return int(exit_request.code or 0)
    if arguments.service is None:
        parser.print_help()
        return EXIT_USAGE
    if arguments.rpc is None:
        arguments.service_parser.print_help()
        return EXIT_USAGE
    if arguments.rpc == REPLAY_COMMAND and arguments.service == REPLAY_SERVICE:
        return _replay(arguments.file)
    return _invoke(arguments.command, arguments)


def build_parser(catalog: dict[str, ServiceCommands]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynasty",
        description="Call any Dynasty Futures gRPC service. Every RPC in proto/ is a command.",
        epilog="Exit codes: 0 ok, 1 the service returned an error, 2 bad command line or JSON.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    services = parser.add_subparsers(dest="service", metavar="<service>", title="services")
    names = sorted({*catalog, REPLAY_SERVICE})
    for name in names:
        commands = catalog.get(name, ServiceCommands(name))
        service_parser = services.add_parser(
            name,
            help=_first_sentence(commands.comment) or f"the {name} service",
            description=commands.comment or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        service_parser.set_defaults(service_parser=service_parser)
        rpcs = service_parser.add_subparsers(dest="rpc", metavar="<rpc>", title="rpcs")
        for command in commands.rpcs.values():
            if name == REPLAY_SERVICE and command.name == REPLAY_COMMAND:
                # The offline replay tool owns this name; an RPC of the same name moves aside.
                command = dataclasses.replace(command, name=f"rpc-{REPLAY_COMMAND}")
            _add_rpc_parser(rpcs, name, command)
        if name == REPLAY_SERVICE:
            replay = rpcs.add_parser(
                REPLAY_COMMAND,
                help="replay a recorded trading scenario through the rules engine, offline",
                description="Runs services.rules.replay on FILE.json and prints its verdict.",
            )
            replay.add_argument("file", metavar="FILE.json")
    return parser


def _add_rpc_parser(rpcs: argparse._SubParsersAction, service: str, command: RpcCommand) -> None:
    request_type = command.method.input_type
    streaming_note = " (streams its answers)" if command.streams_responses else ""
    rpc_parser = rpcs.add_parser(
        command.name,
        help=(_first_sentence(command.comment) or command.method.name) + streaming_note,
        description=(command.comment or command.method.full_name) + streaming_note,
        epilog="\n".join(
            [f"request {request_type.full_name} fields:", *describe_fields(request_type)]
            if request_type.fields
            else [f"request {request_type.full_name} has no fields"]
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rpc_parser.set_defaults(command=command)
    rpc_parser.add_argument(
        "--json",
        default="{}",
        metavar="JSON",
        help="the request as protobuf JSON; @FILE reads it from a file, - from stdin (default {})",
    )
    rpc_parser.add_argument(
        "--target",
        default=None,
        help=f"host:port of the service (default ${_target_variable(service)} or {_default_target(service)})",
    )
    rpc_parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help=f"deadline in seconds (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    rpc_parser.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="gRPC metadata sent with the call, e.g. authorization=...; repeatable",
    )


def _invoke(command: RpcCommand, arguments: argparse.Namespace) -> int:
    if command.streams_requests:
        print(f"error: {command.method.full_name} streams its requests; the CLI cannot call it", file=sys.stderr)
        return EXIT_USAGE
    try:
        request = parse_request(command, _read_json_argument(arguments.json))
        metadata = parse_metadata(arguments.metadata)
    except BadRequestInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    target = arguments.target or _default_target(arguments.service)
    if not target:
        print(
            f"error: no address for the {arguments.service} service; "
            f"pass --target host:port or set {_target_variable(arguments.service)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        for response in call(command, request, target=target, timeout_seconds=arguments.timeout, metadata=metadata):
            print(to_json(response), flush=True)
    except grpc.RpcError as error:
        print(describe_rpc_error(error), file=sys.stderr)
        return EXIT_RPC_ERROR
    return EXIT_OK


def _read_json_argument(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise BadRequestInput(f"cannot read --json file {value[1:]}: {error.strerror}") from error
    return value


def _replay(file: str) -> int:
    # Imported only here: the replay tool pulls in the rules engine, which no other command needs.
    try:
        replay = importlib.import_module(REPLAY_MODULE)
    except ModuleNotFoundError as error:
        if error.name != REPLAY_MODULE:
            raise
        print(f"error: the replay tool ({REPLAY_MODULE}) is not part of this checkout yet", file=sys.stderr)
        return EXIT_USAGE
    result = replay.main([file])
    return int(result or 0)


def _target_variable(service: str) -> str:
    return f"DYNASTY_{service.upper().replace('-', '_')}_TARGET"


def _default_target(service: str) -> str:
    return os.environ.get(_target_variable(service), "") or DEFAULT_TARGETS.get(service, "")


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".")


def run(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        code = main(list(argv) if argv is not None else None)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`dynasty ... | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
