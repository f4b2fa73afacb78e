"""Run the simulator for real: uvicorn on a free port in a thread (one for the session, a fresh simulator app per
test), driven over HTTP with httpx as our adapters will drive it, and a webhook endpoint that records the raw
bytes and headers so signatures are checked on what arrived.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.ypf_simulator.app import build_app
from tests.support.servers import ServerThread, free_port

CLIENT_KEY = "ypf_test_client_key"
WEBHOOK_SECRET = "ypf_test_webhook_secret"


def verify_signature(body: bytes, header: str, secret: str = WEBHOOK_SECRET, tolerance: int = 300) -> bool:
    """What our gateway does: recompute HMAC-SHA256 over "<t>.<body>" and compare in constant time, within a
    timestamp tolerance."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(expected, parts["v1"])


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Our gateway's webhook endpoint, reduced to a recorder: answers `fail_next` deliveries with 500, then 200."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [d.event for d in self.snapshot() if event_type is None or d.event["type"] == event_type]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {[(e['type'], e['sequence']) for e in events]}")
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with state.lock:
                failing = state.fail_next > 0
                if failing:
                    state.fail_next -= 1
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    state.deliveries.append(Delivery(body, headers, time.monotonic()))
            self.send_response(500 if failing else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/webhooks/yourpropfirm"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Simulator:
    url: str
    api: httpx.Client  # as our adapters call it: X-Client-Key on every request
    control: httpx.Client  # the /_sim controls

    def configure(self, **knobs: Any) -> dict[str, Any]:
        reply = self.control.post("/_sim/config", json=knobs)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def new_account(self, program_id: str = "eval-50k") -> dict[str, Any]:
        email = f"trader-{time.monotonic_ns()}@dynasty.test"
        reply = self.api.post(
            "/client/v1/users", json={"email": email, "firstname": "Ada", "lastname": "Trader", "programId": program_id}
        )
        assert reply.status_code == 201, reply.text
        return reply.json()["accounts"][0]

    def fill(self, account_id: str, symbol: str, side: str, size: int, price: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"accountId": account_id, "symbol": symbol, "side": side, "size": size}
        if price is not None:
            body["price"] = price
        reply = self.control.post("/_sim/fills", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def quote(self, symbol: str, price: str) -> dict[str, Any]:
        reply = self.control.post("/_sim/quotes", json={"symbol": symbol, "price": price})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait_idle(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.control.get("/_sim/deliveries").json()["idle"]:
            if time.monotonic() > deadline:
                raise AssertionError("webhook deliveries still pending")
            time.sleep(0.02)


class Swappable:
    """One uvicorn server for the whole session serving whichever simulator app the current test built, so each
    test still gets a fresh simulator (its own data dir, knobs and webhook receiver) without paying uvicorn's
    start and its 0.2 s shutdown every time. The app's own lifespan (webhook workers, random walk) is entered and
    left on the server's event loop, as uvicorn would."""

    def __init__(self) -> None:
        self.app: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.loop = asyncio.get_running_loop()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)

    @contextmanager
    def serving(self, app: Any) -> Iterator[None]:
        assert self.loop is not None
        lifespan = app.router.lifespan_context(app)
        asyncio.run_coroutine_threadsafe(lifespan.__aenter__(), self.loop).result(10)
        self.app = app
        try:
            yield
        finally:
            asyncio.run_coroutine_threadsafe(lifespan.__aexit__(None, None, None), self.loop).result(10)
            self.app = None


@pytest.fixture(scope="session")
def shared_server() -> Iterator[tuple[Swappable, int]]:
    swappable = Swappable()
    port = free_port()
    with ServerThread(swappable, port):
        yield swappable, port


@pytest.fixture
def sim(tmp_path: Path, receiver: Receiver, shared_server: tuple[Swappable, int]) -> Iterator[Simulator]:
    swappable, port = shared_server
    app = build_app(tmp_path / "ypf", client_key=CLIENT_KEY, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)
    url = f"http://127.0.0.1:{port}"
    with (
        swappable.serving(app),
        httpx.Client(base_url=url, headers={"X-Client-Key": CLIENT_KEY}, timeout=10) as api,
        httpx.Client(base_url=url, timeout=10) as control,
    ):
        simulator = Simulator(url, api, control)
        simulator.configure(retry_base_seconds=0.05, retry_max_seconds=0.2, reorder_wait_seconds=0.2)
        yield simulator
