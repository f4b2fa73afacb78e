"""Run the stand-ins for real: uvicorn on 127.0.0.1:<free port> in a thread, because the stripe SDK needs a socket.

The webhook receiver is a plain threaded HTTP server that records the raw body and headers, so the tests verify
exactly the bytes that arrived, with `stripe.Webhook.construct_event`, as our gateway will.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from devstack.stripe_standin.app import build_app
from tests.support.servers import ServerThread, free_port

WEBHOOK_SECRET = "whsec_test_standin_secret"


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A merchant's webhook endpoint: answers `fail_next` deliveries with 500, then 200."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 10.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.deliveries)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        raise AssertionError(f"timed out; received {[d.event['type'] for d in snapshot]}")

    def types(self) -> list[str]:
        with self.lock:
            return [d.event["type"] for d in self.deliveries]

    def verified_events(self) -> list[stripe.Event]:
        with self.lock:
            snapshot = list(self.deliveries)
        return [stripe.Webhook.construct_event(d.body, d.headers["stripe-signature"], WEBHOOK_SECRET) for d in snapshot]


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
                    state.deliveries.append(Delivery(body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(500 if failing else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Standin:
    url: str
    control: httpx.Client

    def configure(self, **knobs: Any) -> dict[str, Any]:
        reply = self.control.post("/_standin/config", json=knobs)
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        reply = self.control.post(path, json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture
def standin(tmp_path: Path, receiver: Receiver) -> Iterator[Standin]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = build_app(tmp_path / "stripe", public_url=url, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)
    with ServerThread(app, port), httpx.Client(base_url=url, timeout=10) as control:
        standin = Standin(url, control)
        standin.configure(retry_base_seconds=0.05, retry_max_seconds=0.2)
        yield standin


@pytest.fixture
def client(standin: Standin) -> stripe.StripeClient:
    """The official SDK, configured the way our Stripe adapter will be in the devstack."""
    return stripe.StripeClient("sk_test_standin", base_addresses={"api": standin.url}, max_network_retries=0)
