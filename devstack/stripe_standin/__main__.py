"""`python -m devstack.stripe_standin --port 12111 --webhook-url URL --webhook-secret whsec_... --data-dir DIR`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from devstack.stripe_standin.app import build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.stripe_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None, help="where events are POSTed (none: stored, not sent)")
    parser.add_argument("--webhook-secret", default="whsec_devstack", help="the endpoint's signing secret, whsec_...")
    parser.add_argument("--data-dir", type=Path, default=Path(".data/stripe_standin"))
    parser.add_argument(
        "--webhook-concurrency",
        type=int,
        default=1,
        help="deliveries in flight at once; 1 keeps creation order (unless the order knob says otherwise)",
    )
    parser.add_argument("--public-url", default=None, help="base URL browsers use for hosted pages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per webhook delivery would drown the log
    app = build_app(
        args.data_dir,
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        webhook_concurrency=args.webhook_concurrency,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
