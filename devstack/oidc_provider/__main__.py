"""`python -m devstack.oidc_provider --port 8095 --issuer http://127.0.0.1:8095 [--config clients.json]`."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from devstack.oidc_provider.app import Provider, build_app
from devstack.oidc_provider.config import DEFAULT_GATEWAYS, load_config
from devstack.oidc_provider.keys import SigningKey


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.oidc_provider", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--issuer", default=None, help="the iss of every token; default http://HOST:PORT")
    parser.add_argument("--config", type=Path, default=None, help="clients and users as JSON (see config.py)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the signing key here across restarts")
    parser.add_argument(
        "--gateway-url",
        action="append",
        default=None,
        help="base URL of a gateway whose /v1/auth/oauth/<provider>/callback the default clients may redirect to "
        "(repeatable; default http://127.0.0.1:8080 and http://localhost:8080)",
    )
    args = parser.parse_args(argv)
    key = SigningKey.load_or_create(args.data_dir / "oidc_signing_key.pem" if args.data_dir else None)
    issuer = (args.issuer or f"http://{args.host}:{args.port}").rstrip("/")
    gateways = args.gateway_url or list(DEFAULT_GATEWAYS)
    provider = Provider(issuer=issuer, config=load_config(args.config, gateways), key=key)
    uvicorn.run(build_app(provider), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
