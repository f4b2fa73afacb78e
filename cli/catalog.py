"""What the `dynasty` command can call: every RPC of every service in the generated protobuf modules.

Nothing here is written per RPC. The generated `*_pb2` modules under `<gen_root>/dynasty/*/v1/`
are imported, and their file descriptors name the services, methods and message classes.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    FileDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from cli.proto_comments import ProtoComments

ROOT_PACKAGE = "dynasty"


@dataclass(frozen=True)
class RpcCommand:
    """One RPC as a command: `dynasty <service> <name>`."""

    name: str
    method: MethodDescriptor
    comment: str

    @property
    def path(self) -> str:
        """The HTTP/2 path gRPC calls, `/<package>.<Service>/<Method>`."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def request_class(self) -> type[Message]:
        return GetMessageClass(self.method.input_type)

    @property
    def response_class(self) -> type[Message]:
        return GetMessageClass(self.method.output_type)

    @property
    def streams_requests(self) -> bool:
        return bool(self.method.client_streaming)

    @property
    def streams_responses(self) -> bool:
        return bool(self.method.server_streaming)


@dataclass
class ServiceCommands:
    """The commands of one proto package's services, named by its service segment (`challenges`)."""

    name: str
    comment: str = ""
    rpcs: dict[str, RpcCommand] = field(default_factory=dict)


def service_segment(package: str) -> str:
    """`dynasty.challenges.v1` -> `challenges`."""
    parts = package.split(".")
    return kebab_case(parts[1] if len(parts) > 2 else parts[-1])


def kebab_case(name: str) -> str:
    """`CreateProgramVersion` -> `create-program-version`; `GetKYCCase` -> `get-kyc-case`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name)
    return spaced.replace("_", "-").lower()


def import_generated_modules(gen_root: Path) -> list[FileDescriptor]:
    """Import every `<gen_root>/dynasty/*/v1/*_pb2.py` and return their file descriptors."""
    gen_root = gen_root.resolve()
    if str(gen_root) not in sys.path:
        sys.path.insert(0, str(gen_root))
    descriptors = []
    for module_file in sorted((gen_root / ROOT_PACKAGE).glob("*/v1/*_pb2.py")):
        module_name = ".".join(module_file.relative_to(gen_root).with_suffix("").parts)
        module = importlib.import_module(module_name)
        descriptors.append(module.DESCRIPTOR)
    return descriptors


def build_catalog(files: list[FileDescriptor], comments: ProtoComments | None = None) -> dict[str, ServiceCommands]:
    comments = comments or ProtoComments(None)
    catalog: dict[str, ServiceCommands] = {}
    for file in files:
        for service in file.services_by_name.values():
            commands = catalog.setdefault(service_segment(file.package), ServiceCommands(service_segment(file.package)))
            commands.comment = commands.comment or comments.for_service(file.name, service.name)
            _add_rpcs(commands, service, file, comments)
    return dict(sorted(catalog.items()))


def _add_rpcs(
    commands: ServiceCommands, service: ServiceDescriptor, file: FileDescriptor, comments: ProtoComments
) -> None:
    for method in service.methods:
        name = kebab_case(method.name)
        if name in commands.rpcs:
            # Two services of one package with an RPC of the same name: qualify the newcomer.
            name = f"{kebab_case(service.name)}.{name}"
        commands.rpcs[name] = RpcCommand(
            name=name, method=method, comment=comments.for_rpc(file.name, service.name, method.name)
        )


def describe_fields(message: Descriptor, indent: str = "  ") -> list[str]:
    """One line per field of a request message, for `--help`."""
    lines = []
    for field_descriptor in message.fields:
        if field_descriptor.message_type is not None and field_descriptor.message_type.GetOptions().map_entry:
            key, value = field_descriptor.message_type.fields
            lines.append(f"{indent}{field_descriptor.name}: map<{_type_name(key)}, {_type_name(value)}>")
            continue
        repeated = "repeated " if field_descriptor.is_repeated else ""
        lines.append(f"{indent}{field_descriptor.name}: {repeated}{_type_name(field_descriptor)}")
    return lines


def _type_name(field_descriptor: FieldDescriptor) -> str:
    if field_descriptor.message_type is not None:
        return str(field_descriptor.message_type.full_name)
    if field_descriptor.enum_type is not None:
        return str(field_descriptor.enum_type.full_name)
    return _SCALAR_NAMES.get(field_descriptor.type, "?")


_SCALAR_NAMES = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    12: "bytes",
    13: "uint32",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}
