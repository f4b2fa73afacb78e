"""The object-storage port's local adapter: a folder on disk (devstack, tests). Production uses S3 with SSE-KMS
behind the same `put(key, data, content_type)` / `get(key)` shape.

Keys are "/"-separated like S3 keys; each segment must be a plain name, so a key can never step outside the root.
Writes go to a temporary name and are renamed, so a reader never sees half an object. Callers that store personal
data encrypt it before it gets here (libs/platform/crypto.py): this layer stores whatever bytes it is given.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class ObjectNotFound(Exception):
    pass


class LocalDirectoryObjectStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        segments = key.split("/")
        if not segments or any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in segments):
            raise ValueError(f"object key {key!r} is not a plain /-separated name")
        return self.root.joinpath(*segments)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path_for(key), data)

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        temporary.rename(path)
