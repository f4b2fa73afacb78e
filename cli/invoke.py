"""Calling one RPC generically: JSON in, the message classes from the descriptors, JSON out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from cli.catalog import RpcCommand


class BadRequestInput(ValueError):
    """The --json or --metadata given cannot become a request; nothing was sent."""


def parse_request(command: RpcCommand, request_json: str) -> Message:
    request = command.request_class()
    try:
        json_format.Parse(request_json or "{}", request)
    except json_format.ParseError as error:
        raise BadRequestInput(f"invalid --json for {command.method.input_type.full_name}: {error}") from error
    return request


def parse_metadata(pairs: Sequence[str]) -> list[tuple[str, str]]:
    metadata = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise BadRequestInput(f"--metadata wants key=value, got {pair!r}")
        # gRPC metadata keys are lower case on the wire; a mixed-case key would be rejected.
        metadata.append((key.strip().lower(), value))
    return metadata


def call(
    command: RpcCommand,
    request: Message,
    *,
    target: str,
    timeout_seconds: float,
    metadata: list[tuple[str, str]],
) -> Iterator[Message]:
    """The response messages: one for a unary RPC, each streamed one for a server-streaming RPC."""
    response_class = command.response_class
    with grpc.insecure_channel(target) as channel:
        if command.streams_responses:
            stream = channel.unary_stream(
                command.path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=response_class.FromString,
            )
            yield from stream(request, timeout=timeout_seconds, metadata=metadata)
            return
        unary = channel.unary_unary(
            command.path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_class.FromString,
        )
        yield unary(request, timeout=timeout_seconds, metadata=metadata)


def to_json(message: Message) -> str:
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=2,
        ensure_ascii=False,
    )


def describe_rpc_error(error: grpc.RpcError) -> str:
    """`error: <CODE>: <details>` and, when the server sent them, the ErrorInfo reason and other details."""
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    lines = [f"error: {code.name if code else 'UNKNOWN'}: {details}"]
    status = rpc_status.from_call(error) if isinstance(error, grpc.Call) else None
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            extra = ", ".join(f"{key}={value}" for key, value in sorted(info.metadata.items()))
            lines.append(f"reason: {info.reason} (domain: {info.domain}{', ' + extra if extra else ''})")
        else:
            lines.append(f"detail: {detail.type_url}")
    return "\n".join(lines)
