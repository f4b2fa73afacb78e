"""`make up`: start everything, print where to look, stop everything on Ctrl-C (data kept in .data/)."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from pathlib import Path

from devstack.stack import REPO_ROOT, Stack


def seed_demo_data(stack: Stack):
    """Demo users (idempotent). The catalogue comes from the challenges migrations."""
    from libs.platform.settings import IdentitySettings
    from services.identity.adapters.demo_seed import seed_demo_users

    settings = IdentitySettings(**stack.identity_settings())
    return asyncio.run(seed_demo_users(settings))


def main() -> int:
    data_dir = Path(REPO_ROOT / ".data" / "devstack")
    # A live price stream (one quote batch a second) so risk figures move as they would at the open.
    stack = Stack(data_dir=data_dir, ypf_tick_rate=1.0, log=lambda m: print(f"[up] {m}", flush=True))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    started = time.monotonic()
    print("[up] starting PostgreSQL, Redis, identity, challenges, rules, payouts and the gateway ...", flush=True)
    try:
        stack.start(timeout=90)
    except Exception as exc:
        print(f"[up] failed to start: {exc}", file=sys.stderr, flush=True)
        stack.stop()
        return 1
    try:
        demo = seed_demo_data(stack)
    except Exception as exc:  # a broken seed must not leave the stack running unattended
        print(f"[up] failed to seed demo data: {exc}", file=sys.stderr, flush=True)
        stack.stop()
        return 1
    print(f"[up] ready in {time.monotonic() - started:.1f}s. Running:\n{stack.describe()}", flush=True)
    print(
        "[up] demo data:\n"
        "       the six one-time evaluations ($5K-$200K) and three monthly ones, seeded by the challenges migrations\n"
        f"       admin  {demo.admin_email} / {demo.admin_password}\n"
        f"              TOTP secret {demo.admin_totp_secret} (an authenticator app, or\n"
        f"              .venv/bin/python -m devstack.totp {demo.admin_totp_secret})\n"
        f"       trader {demo.trader_email} / {demo.trader_password}\n"
        f"[up] outgoing mail (verification links, new-device notices): {stack.mail_dir}/*.eml\n"
        "[up] try: curl -s http://127.0.0.1:8080/v1/programs | python3 -m json.tool\n"
        "[up] Ctrl-C stops everything (data stays in .data/devstack; `make reset` wipes it).",
        flush=True,
    )
    while not stopping.wait(1.0):
        dead = {n: s for n, s in stack.status().items() if s != "running"}
        if dead:
            print(f"[up] a process stopped unexpectedly: {dead}; see {stack.log_dir}", file=sys.stderr, flush=True)
            break
    print("[up] stopping ...", flush=True)
    stack.stop()
    print("[up] stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
