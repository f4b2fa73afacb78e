"""A minimal HTTP/1.1 client for webhook POSTs over kept-alive connections.

httpx spent about a millisecond of CPU per delivery, which capped the simulator near 700 webhooks a second on this
machine; the benchmark of issue 6 wants thousands. A webhook sender needs very little of HTTP: POST a body to one
plain-http URL and read the status, skipping whatever body comes back (Content-Length, chunked, or until close).
https URLs go through httpx instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import httpx


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(Exception):
            self.writer.close()


class WebhookSender:
    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._plain = parts.scheme == "http"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._url = url
        self._timeout = timeout
        self._idle: list[_Connection] = []
        self._httpx = None if self._plain else httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        if self._httpx is not None:
            await self._httpx.aclose()

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status code; raises OSError or TimeoutError when there is none."""
        if self._httpx is not None:
            return (await self._httpx.post(self._url, content=body, headers=headers)).status_code
        # asyncio.timeout rather than wait_for: on 3.11, wait_for can swallow a cancellation that lands as the
        # answer arrives, and a worker that missed its cancellation kept the simulator's shutdown waiting.
        async with asyncio.timeout(self._timeout):
            return await self._post_plain(body, headers)

    async def _post_plain(self, body: bytes, headers: dict[str, str]) -> int:
        if self._idle:
            connection = self._idle.pop()
            try:
                return await self._exchange(connection, body, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass  # the server closed the kept-alive connection meanwhile: once more on a fresh one
        reader, writer = await asyncio.open_connection(self._host, self._port)
        return await self._exchange(_Connection(reader, writer), body, headers)

    async def _exchange(self, connection: _Connection, body: bytes, headers: dict[str, str]) -> int:
        try:
            head = [f"POST {self._target} HTTP/1.1", f"Host: {self._host}:{self._port}", f"Content-Length: {len(body)}"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            connection.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await connection.writer.drain()
            status = await self._read_answer(connection)
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
        return status

    @staticmethod
    async def _read_answer(connection: _Connection) -> int:
        reader = connection.reader
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the webhook endpoint closed the connection")
        version, status_text = status_line.split()[:2]
        status = int(status_text)
        connection.reusable = version == b"HTTP/1.1"  # HTTP/1.0 closes unless it says keep-alive
        length: int | None = None
        chunked = False
        while True:
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection":
                connection.reusable = value == "keep-alive" or (connection.reusable and value != "close")
        if chunked:
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                await reader.readexactly(size + 2)  # the chunk and its CRLF
                if size == 0:
                    break
        elif length is not None:
            await reader.readexactly(length)
        elif status >= 200 and status not in (204, 304):
            await reader.read()  # no length: the body runs until the server closes
            connection.reusable = False
        return status
