"""`python -m devstack.ypf_simulator --port 8090 --client-key KEY --webhook-url URL --webhook-secret S --data-dir D
[--tick-rate N]`: the YourPropFirm platform simulator."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from devstack.ypf_simulator.app import build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.ypf_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--client-key", required=True, help="the X-Client-Key every /client/v1 call must carry")
    parser.add_argument("--webhook-url", default=None, help="where events are POSTed (none: logged, not sent)")
    parser.add_argument("--webhook-secret", required=True, help="the HMAC-SHA256 key for X-YPF-Signature")
    parser.add_argument("--data-dir", type=Path, default=Path(".data/ypf_simulator"))
    parser.add_argument(
        "--tick-rate", type=float, default=0.0, help="quote batches per second from the random walk (0: off)"
    )
    parser.add_argument(
        "--webhook-concurrency",
        type=int,
        default=1,
        help="deliveries in flight at once; 1 keeps creation order (unless a knob says otherwise)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per delivery would drown the log
    app = build_app(
        args.data_dir,
        client_key=args.client_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        tick_rate=args.tick_rate,
        webhook_concurrency=args.webhook_concurrency,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
