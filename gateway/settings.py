"""Gateway settings (DYNASTY_GATEWAY_* and the shared service targets)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DYNASTY_", extra="ignore")

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "DYNASTY_REDIS_URL"))
    identity_target: str = "127.0.0.1:50051"
    challenges_target: str = "127.0.0.1:50052"
    rules_target: str = "127.0.0.1:50053"
    payouts_target: str = "127.0.0.1:50054"
    upstream_timeout_seconds: float = 5.0
    log_level: str = "INFO"
    otel_exporter: str = "none"

    def targets(self) -> dict[str, str]:
        return {
            "identity": self.identity_target,
            "challenges": self.challenges_target,
            "rules": self.rules_target,
            "payouts": self.payouts_target,
        }
