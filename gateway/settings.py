"""Gateway settings (DYNASTY_GATEWAY_* and the shared service targets)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DYNASTY_", extra="ignore")

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # Required: every authenticated request checks the revocation keys in Redis (suspension, logout).
    redis_url: str = Field(validation_alias=AliasChoices("REDIS_URL", "DYNASTY_REDIS_URL"))
    identity_target: str = "127.0.0.1:50051"
    challenges_target: str = "127.0.0.1:50052"
    rules_target: str = "127.0.0.1:50053"
    payouts_target: str = "127.0.0.1:50054"
    upstream_timeout_seconds: float = 5.0
    # How many proxies in front of the gateway append to X-Forwarded-For and are trusted (CloudFront + ALB = 2).
    # 0: the client IP is the socket peer and X-Forwarded-For is ignored (anyone can write it).
    trusted_proxy_count: int = Field(default=0, ge=0, le=5)
    # The gateway's public origin, for the OAuth callback URL registered with providers; else taken from the request.
    public_base_url: str | None = None
    # How long verified-token keys are cached before identity is asked again (an unknown kid refreshes at once).
    jwks_cache_seconds: float = 300.0
    # Stripe's webhook signing secret (whsec_...), from Secrets Manager in AWS; the devstack sets its stand-in's.
    stripe_webhook_secret: str | None = None
    # YourPropFirm's webhook signing secret (X-YPF-Signature), likewise.
    yourpropfirm_webhook_secret: str | None = None
    # Concurrent YourPropFirm deliveries go to rules as one IngestTradeEvents call once the first has waited this
    # long or this many are queued (gateway/ypf_coalescer.py, ADR 0070). 0 ms: one call per delivery. 10 ms, not 2:
    # at 2,000 deliveries/s it makes about 11 events per call instead of 3, and the calls saved were the difference
    # between keeping up (1,990/s, p99 285 ms) and falling behind (docs/performance.md, "coalescing window").
    ypf_webhook_coalesce_ms: float = Field(default=10.0, ge=0)
    ypf_webhook_coalesce_max: int = Field(default=200, ge=1, le=1000)
    log_level: str = "INFO"
    otel_exporter: str = "none"

    def targets(self) -> dict[str, str]:
        return {
            "identity": self.identity_target,
            "challenges": self.challenges_target,
            "rules": self.rules_target,
            "payouts": self.payouts_target,
        }
