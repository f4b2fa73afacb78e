"""How much the simulator carries, so issue 6's benchmark knows whether its event source keeps up.

`python -m devstack.ypf_simulator.loadcheck [--accounts 1000] [--fills 6000] [--batch 100] [--rate 0]` starts the
simulator as a process with a local webhook receiver, provisions accounts over /client/v1 (as issue 5's promotion launch
would), drives fills in batches through /_sim/fills, and prints provisioning rate, fill rate, webhook deliveries
per second and the fill-to-trade-webhook latency.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

KEY = "loadcheck"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--fills", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--port", type=int, default=18091)
    parser.add_argument("--webhook-concurrency", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0, help="fills per second (0: as fast as they are accepted)")
    args = parser.parse_args(argv)

    arrivals: dict[str, float] = {}
    count = [0]
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway answers

        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with lock:
                count[0] += 1
                if event["type"] == "trade":
                    arrivals[event["data"]["id"]] = time.monotonic()
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as data_dir:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.ypf_simulator", "--port", str(args.port), "--client-key", KEY,
             "--webhook-url", f"http://127.0.0.1:{server.server_address[1]}/hook", "--webhook-secret", "s",
             "--data-dir", str(Path(data_dir)), "--webhook-concurrency", str(args.webhook_concurrency)],
            cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        url = f"http://127.0.0.1:{args.port}"
        try:
            _wait_healthy(url)
            with httpx.Client(base_url=url, headers={"X-Client-Key": KEY}, timeout=30) as client:
                started = time.monotonic()

                def provision(index: int) -> str:
                    body = {"email": f"load{index}@dynasty.test", "firstname": "L", "lastname": "C",
                            "programId": "eval-50k"}  # fmt: skip
                    reply = client.post("/client/v1/users", json=body, headers={"Idempotency-Key": f"load-{index}"})
                    return reply.json()["accounts"][0]["id"]

                with ThreadPoolExecutor(8) as pool:
                    accounts = list(pool.map(provision, range(args.accounts)))
                provisioned = time.monotonic() - started
                sent: dict[str, float] = {}
                started = time.monotonic()
                for offset in range(0, args.fills, args.batch):
                    if args.rate > 0:  # pace the batches: batch n leaves at n * batch / rate seconds
                        time.sleep(max(0.0, started + offset / args.rate - time.monotonic()))
                    fills = [
                        {"accountId": accounts[i % len(accounts)], "symbol": "MES", "side": "buy" if i % 2 else "sell",
                         "size": 1}
                        for i in range(offset, min(args.fills, offset + args.batch))
                    ]  # fmt: skip
                    reply = client.post("/_sim/fills", json={"fills": fills})
                    now = time.monotonic()
                    sent.update((trade["id"], now) for trade in reply.json()["trades"])
                filled = time.monotonic() - started
                deadline = time.monotonic() + 300
                while len(arrivals) < len(sent) and time.monotonic() < deadline:
                    time.sleep(0.05)
                drained = time.monotonic() - started
        finally:
            process.terminate()
            process.wait(timeout=10)
            server.shutdown()
    latencies = [arrivals[i] - sent[i] for i in sent if i in arrivals]
    print(f"provisioned {args.accounts} accounts in {provisioned:.2f} s ({args.accounts / provisioned:.0f}/s)")
    print(f"accepted {len(sent)} fills in {filled:.2f} s ({len(sent) / filled:.0f}/s, batches of {args.batch})")
    print(
        f"delivered {count[0]} webhooks (trade+position+account) in {drained:.2f} s ({count[0] / drained:.0f}/s, "
        f"{args.webhook_concurrency} in flight)"
    )
    print(
        f"fill -> trade webhook: p50 {_percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {_percentile(latencies, 0.99) * 1000:.0f} ms; {len(sent) - len(latencies)} trade webhooks missing"
    )


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the simulator did not start")


if __name__ == "__main__":
    main()
