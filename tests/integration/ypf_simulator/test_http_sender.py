"""The simulator's own webhook sender against a uvicorn endpoint, as our gateway will answer it: kept-alive
connections, answers with a length, chunked answers, errors, and a server that closes idle connections."""

from __future__ import annotations

import asyncio
import threading

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from devstack.ypf_simulator.http_sender import WebhookSender
from tests.integration.ypf_simulator.conftest import ServerThread, free_port


@pytest.fixture
def endpoint() -> tuple[str, list[bytes]]:
    received: list[bytes] = []
    lock = threading.Lock()

    async def record(request: Request) -> Response:
        body = await request.body()
        with lock:
            received.append(body)
        return JSONResponse({"received": True})

    async def chunked(request: Request) -> Response:
        received.append(await request.body())

        async def parts():  # no length known up front: uvicorn sends it chunked
            yield b'{"a":'
            yield b"1}"

        return StreamingResponse(parts(), media_type="application/json")

    async def refuse(_request: Request) -> Response:
        return JSONResponse({"error": "down"}, 500)

    app = Starlette(
        routes=[
            Route("/hook", record, methods=["POST"]),
            Route("/chunked", chunked, methods=["POST"]),
            Route("/refuse", refuse, methods=["POST"]),
        ]
    )
    port = free_port()
    with ServerThread(app, port):
        yield f"http://127.0.0.1:{port}", received


def test_many_posts_over_kept_alive_connections_all_arrive(endpoint: tuple[str, list[bytes]]) -> None:
    url, received = endpoint

    async def send() -> list[int]:
        sender = WebhookSender(f"{url}/hook", timeout=5)
        try:
            return [await sender.post(f'{{"n":{i}}}'.encode(), {"Content-Type": "application/json"}) for i in range(50)]
        finally:
            await sender.close()

    statuses = asyncio.run(send())

    assert statuses == [200] * 50
    assert received == [f'{{"n":{i}}}'.encode() for i in range(50)]


def test_chunked_and_error_answers_are_read_to_the_end(endpoint: tuple[str, list[bytes]]) -> None:
    url, received = endpoint

    async def send() -> list[int]:
        chunked, refused = WebhookSender(f"{url}/chunked", timeout=5), WebhookSender(f"{url}/refuse", timeout=5)
        try:
            return [
                await chunked.post(b"{}", {}),
                await chunked.post(b"{}", {}),  # the connection is still usable after a chunked answer
                await refused.post(b"{}", {}),
                await refused.post(b"{}", {}),
            ]
        finally:
            await chunked.close()
            await refused.close()

    assert asyncio.run(send()) == [200, 200, 500, 500]
    assert received == [b"{}", b"{}"]


def test_no_server_is_an_error_not_a_status() -> None:
    async def send() -> int:
        sender = WebhookSender(f"http://127.0.0.1:{free_port()}/hook", timeout=2)
        try:
            return await sender.post(b"{}", {})
        finally:
            await sender.close()

    with pytest.raises(OSError):
        asyncio.run(send())


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    received: list[bytes] = []

    async def record(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=204)

    port = free_port()
    server = ServerThread(Starlette(routes=[Route("/hook", record, methods=["POST"])]), port)
    server.server.config.timeout_keep_alive = 1  # uvicorn drops the idle connection after a second

    async def send() -> list[int]:
        sender = WebhookSender(f"http://127.0.0.1:{port}/hook", timeout=5)
        try:
            first = await sender.post(b"1", {})
            await asyncio.sleep(1.5)
            return [first, await sender.post(b"2", {})]
        finally:
            await sender.close()

    with server:
        assert asyncio.run(send()) == [204, 204]
    assert received == [b"1", b"2"]
