"""Run the gateway: `python -m gateway.main` (uvicorn, one process; scale out with more tasks behind the ALB)."""

from __future__ import annotations

import uvicorn
from pydantic import ValidationError

from gateway.app import create_app
from gateway.settings import GatewaySettings
from libs.platform.logging import configure_logging
from libs.platform.protogen import ensure_generated
from libs.platform.telemetry import configure_tracing


def main() -> None:
    ensure_generated()
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        # Fail fast and say why: without Redis no revoked token could be refused.
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise SystemExit(
            f"gateway: cannot start: missing or invalid settings: {missing} (REDIS_URL is required)"
        ) from None
    configure_logging("gateway", settings.log_level)
    configure_tracing("gateway", settings.otel_exporter)
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,  # keep our JSON logs
        access_log=False,
        # The client IP is decided in gateway.client from DYNASTY_TRUSTED_PROXY_COUNT; uvicorn's own rewriting
        # (which trusts X-Forwarded-For from 127.0.0.1 by default) would let any local client choose its IP.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
