"""What the KYC and OAuth tests share: the Stripe stand-in and the OIDC provider run for real (uvicorn on a free
port in a thread, as tests/integration/standins do), a webhook receiver that records exactly the bytes Stripe would
send, and identity built with settings that point at them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import stripe

from dynasty.identity.v1 import identity_service_pb2 as pb
from gateway.stripe_events.identity import to_request
from services.identity.adapters.grpc.servicer import IdentityServicer

WEBHOOK_SECRET = "whsec_identity_kyc_tests"
STRIPE_KEY = "sk_test_identity_kyc"


@dataclass
class Receiver:
    """Stripe's side of our webhook endpoint: every delivery's raw body and signature header."""

    url: str = ""
    bodies: list[tuple[bytes, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[tuple[bytes, str]]:
        with self.lock:
            return list(self.bodies)

    def events_for(self, session_id: str) -> list[tuple[bytes, str]]:
        return [(b, s) for b, s in self.snapshot() if json.loads(b)["data"]["object"].get("id") == session_id]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], session_id: str, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deliveries = self.events_for(session_id)
            if predicate([json.loads(body) for body, _ in deliveries]):
                return deliveries
            time.sleep(0.02)
        raise AssertionError(f"timed out; got {[json.loads(b)['type'] for b, _ in self.events_for(session_id)]}")


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with state.lock:
                state.bodies.append((body, self.headers.get("stripe-signature", "")))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/webhooks/stripe"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return state, server


@dataclass
class StripeStandin:
    url: str
    control: httpx.Client

    def configure(self, **knobs: Any) -> None:
        self.control.post("/_standin/config", json=knobs).raise_for_status()

    def drive(self, session_id: str, outcome: str, **body: Any) -> dict[str, Any]:
        reply = self.control.post(f"/_standin/identity/verification_sessions/{session_id}/{outcome}", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()


async def deliver(servicer: IdentityServicer, body: bytes, signature: str) -> pb.ApplyKycVerificationEventResponse:
    """What the gateway does with one delivery: verify Stripe's signature with the SDK, translate, call identity."""
    stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
    return await servicer.ApplyKycVerificationEvent(to_request(json.loads(body)), None)
