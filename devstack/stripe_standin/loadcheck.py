"""How fast the stand-in sells: `python -m devstack.stripe_standin.loadcheck [--purchases 1000] [--seconds 60]`.

Starts the stand-in as a process (as the stack does) with a local webhook receiver that verifies every signature
with stripe.Webhook.construct_event, then buys: create a checkout session through the SDK, pay it through the
control, paced evenly over `--seconds` (0: as fast as the threads go). Prints the wall time, purchase latency
percentiles, and the lag from each payment to its `checkout.session.completed` arriving at the receiver. A check
on the stand-in itself, so the promotion benchmark (issue 5) knows its Stripe side is not the bottleneck.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import stripe

SECRET = "whsec_loadcheck"
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.stripe_standin.loadcheck", description=__doc__)
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0, help="spread the purchases over this long")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--webhook-concurrency", type=int, default=1)
    args = parser.parse_args(argv)

    completed_at: dict[str, float] = {}
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            event = stripe.Webhook.construct_event(body, self.headers["stripe-signature"], SECRET)
            if event.type == "checkout.session.completed":
                with lock:
                    completed_at[event.data.object.id] = time.monotonic()
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        standin = subprocess.Popen(
            [
                sys.executable, "-m", "devstack.stripe_standin", "--port", str(port), "--data-dir", data_dir,
                "--webhook-url", f"http://127.0.0.1:{receiver.server_address[1]}/", "--webhook-secret", SECRET,
                "--webhook-concurrency", str(args.webhook_concurrency),
            ],
            cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            _wait_healthy(url)
            paid_at, latencies, started, finished = _buy(url, args.purchases, args.threads, args.seconds)
        finally:
            deadline = time.monotonic() + 120
            while len(completed_at) < args.purchases and time.monotonic() < deadline:
                time.sleep(0.05)
            standin.terminate()
            standin.wait(timeout=10)
    lags = [completed_at[sid] - paid for sid, paid in paid_at.items() if sid in completed_at]
    print(
        f"{args.purchases} purchases in {finished - started:.1f} s ({args.purchases / (finished - started):.0f}/s); "
        f"purchase p50 {_ms(latencies, 0.5)}, p99 {_ms(latencies, 0.99)}; {len(completed_at)} "
        f"checkout.session.completed received; payment -> webhook p50 {_ms(lags, 0.5)}, p99 {_ms(lags, 0.99)}"
    )


def _ms(values: list[float], quantile: float) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000:.0f} ms"


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the stand-in did not start")


def _buy(url: str, purchases: int, threads: int, seconds: float) -> tuple[dict[str, float], list[float], float, float]:
    client = stripe.StripeClient("sk_test_loadcheck", base_addresses={"api": url}, max_network_retries=0)
    price = client.v1.prices.create(params={"currency": "usd", "unit_amount": 16500, "product_data": {"name": "50K"}})
    control = httpx.Client(base_url=url, timeout=30)
    latencies: list[float] = []
    paid_at: dict[str, float] = {}
    started = time.monotonic()

    def buy(order: int) -> None:
        time.sleep(max(0.0, started + seconds * order / purchases - time.monotonic()))
        began = time.monotonic()
        session = client.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": price.id}], "client_reference_id": f"order-{order}"},
            options={"idempotency_key": f"order-{order}"},
        )
        control.post(f"/_standin/checkout/sessions/{session.id}/pay", json={}).raise_for_status()
        paid_at[session.id] = time.monotonic()
        latencies.append(paid_at[session.id] - began)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(buy, range(purchases)))
    return paid_at, latencies, started, time.monotonic()


if __name__ == "__main__":
    main()
