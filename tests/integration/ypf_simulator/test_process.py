"""The simulator as the stack supervisor starts it: `python -m devstack.ypf_simulator ...`, healthy on /healthz, its
random walk on from --tick-rate, and its accounts and trades kept in --data-dir across a restart."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT
from tests.integration.ypf_simulator.conftest import CLIENT_KEY, WEBHOOK_SECRET, Receiver, free_port


@contextmanager
def running(args: list[str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.ypf_simulator", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"the simulator did not become healthy:\n{output}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_it_runs_as_a_module_streams_quotes_and_keeps_state_across_restarts(tmp_path: Path, receiver: Receiver) -> None:
    port = free_port()
    args = [
        "--port", str(port),
        "--client-key", CLIENT_KEY,
        "--webhook-url", receiver.url,
        "--webhook-secret", WEBHOOK_SECRET,
        "--data-dir", str(tmp_path),
        "--tick-rate", "20",
    ]  # fmt: skip
    headers = {"X-Client-Key": CLIENT_KEY}
    with running(args, port) as url:
        user = httpx.post(
            f"{url}/client/v1/users",
            json={"email": "kept@dynasty.test", "firstname": "K", "lastname": "P", "programId": "eval-10k"},
            headers=headers,
        ).json()
        account_id = user["accounts"][0]["id"]
        fill = {"accountId": account_id, "symbol": "MES", "side": "buy", "size": 3}
        assert httpx.post(f"{url}/_sim/fills", json=fill).status_code == 201
        receiver.wait_for(lambda events: sum(e["type"] == "quote" for e in events) >= 3)
        quote_before = httpx.get(f"{url}/client/v1/quotes/latest?symbols=MES", headers=headers).json()["quotes"][0]

    with running(args, port) as url:
        trades = httpx.get(f"{url}/client/v1/accounts/{account_id}/trades", headers=headers).json()
        positions = httpx.get(f"{url}/client/v1/accounts/{account_id}/positions", headers=headers).json()
        again = httpx.post(
            f"{url}/client/v1/users",
            json={"email": "kept@dynasty.test", "firstname": "K", "lastname": "P"},
            headers=headers,
        )
        assert httpx.post(f"{url}/_sim/fills", json=fill).status_code == 201
        after = httpx.get(f"{url}/client/v1/accounts/{account_id}/trades?after_sequence=1", headers=headers).json()

    assert [t["size"] for t in trades["trades"]] == [3]
    assert [(p["symbol"], p["size"]) for p in positions["positions"]] == [("MES", 3)]
    assert again.status_code == 409
    assert [t["sequence"] for t in after["trades"]] == [2]  # sequences continue after a restart
    assert quote_before["lastPrice"]  # the walk ran under the module's --tick-rate
