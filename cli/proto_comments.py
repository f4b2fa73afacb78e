"""The `//` comments above services and RPCs, read from the .proto sources for `--help`.

Generated `_pb2` modules drop source comments, so the sources are read instead. This is a
line scan, not a parser: it only has to find `service X {` and `rpc Y(` and the comment
lines right above them. When the sources are absent the help simply has no descriptions.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_SERVICE = re.compile(r"^\s*service\s+(\w+)")
_RPC = re.compile(r"^\s*rpc\s+(\w+)\s*\(")
_COMMENT = re.compile(r"^\s*//\s?(.*)$")


class ProtoComments:
    def __init__(self, proto_root: Path | None) -> None:
        self._proto_root = proto_root

    def for_service(self, file_name: str, service: str) -> str:
        return self._comments(file_name).get((service, None), "")

    def for_rpc(self, file_name: str, service: str, method: str) -> str:
        return self._comments(file_name).get((service, method), "")

    def _comments(self, file_name: str) -> dict[tuple[str, str | None], str]:
        if self._proto_root is None:
            return {}
        return _read_comments(self._proto_root / file_name)


@cache
def _read_comments(source: Path) -> dict[tuple[str, str | None], str]:
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    found: dict[tuple[str, str | None], str] = {}
    pending: list[str] = []
    current_service: str | None = None
    for line in lines:
        comment = _COMMENT.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        service = _SERVICE.match(line)
        rpc = _RPC.match(line)
        if service:
            current_service = service.group(1)
            found[(current_service, None)] = " ".join(pending)
        elif rpc and current_service is not None:
            found[(current_service, rpc.group(1))] = " ".join(pending)
        pending = []
    return found
