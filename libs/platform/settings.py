"""Settings, read once in each composition root from the environment (Secrets Manager injects them in AWS)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"identity": 50051, "challenges": 50052, "rules": 50053, "payouts": 50054}


class ServiceSettings(BaseSettings):
    """What every gRPC service needs. Field names map to DYNASTY_* variables, except the two URLs."""

    model_config = SettingsConfigDict(env_prefix="DYNASTY_", extra="ignore")

    database_url: str = Field(validation_alias=AliasChoices("DATABASE_URL", "DYNASTY_DATABASE_URL"))
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "DYNASTY_REDIS_URL"))
    grpc_host: str = "127.0.0.1"
    grpc_port: int | None = None
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    otel_exporter: str = "none"  # none | console
    outbox_poll_seconds: float = 0.5
    identity_target: str = "127.0.0.1:50051"
    challenges_target: str = "127.0.0.1:50052"
    rules_target: str = "127.0.0.1:50053"
    payouts_target: str = "127.0.0.1:50054"

    def port_for(self, service: str) -> int:
        return self.grpc_port if self.grpc_port is not None else DEFAULT_PORTS[service]

    def target_for(self, service: str) -> str:
        return getattr(self, f"{service}_target")


class IdentitySettings(ServiceSettings):
    """The identity service's own settings (DYNASTY_IDENTITY_*), on top of what every service reads.

    The argon2id defaults are OWASP's minimum (t=2, m=19 MiB, p=1): ADR 0030 records the measured cost of this and
    of RFC 9106's 64 MiB option, and why login latency at 20 concurrent logins on 2 vCPUs decides. Tests lower them.
    """

    identity_master_key: str | None = None  # base64 of 32 bytes; in AWS a KMS key replaces it (identity_kms_key_id)
    identity_master_key_file: str = ".data/devstack/identity/master.key"  # devstack: created on first start
    identity_kms_key_id: str | None = None
    identity_argon2_time_cost: int = 2
    identity_argon2_memory_kib: int = 19456
    identity_argon2_parallelism: int = 1
    identity_email_backend: str = "local"  # local | ses
    identity_mail_dir: str = ".data/devstack/mail"
    identity_mail_from: str = "Dynasty Futures <no-reply@dynasty.local>"
    identity_public_base_url: str = "http://127.0.0.1:8080"
    identity_blocked_countries: str = "CU,IR,KP,SY"  # OFAC comprehensively sanctioned jurisdictions
    identity_verification_ttl_hours: int = 48
    # KYC (Stripe Identity) and personal documents (issue 4). stripe_api_base None means the real api.stripe.com;
    # the devstack points it at its Stripe stand-in. The key is a restricted key with Identity write access.
    stripe_api_base: str | None = None  # DYNASTY_STRIPE_API_BASE
    stripe_api_key: str | None = None  # DYNASTY_STRIPE_API_KEY
    identity_stripe_timeout_seconds: float = 10.0
    # KYC documents: a local folder in the devstack and tests; in AWS an S3 bucket with SSE-KMS (the bucket is set
    # and the folder ignored). Either way the bytes are envelope-encrypted by identity before they are stored.
    identity_object_storage_dir: str = ".data/devstack/identity/objects"
    identity_object_storage_bucket: str | None = None
    # OAuth / OIDC sign-in. DYNASTY_OIDC_ISSUER_OVERRIDE (devstack) sends every provider to the local OIDC provider,
    # whose default clients are dynasty-<provider> / devstack-<provider>-secret; production sets the real client ids
    # and secrets below (from Secrets Manager) and no override.
    oidc_issuer_override: str | None = None  # DYNASTY_OIDC_ISSUER_OVERRIDE
    identity_oauth_google_client_id: str | None = None
    identity_oauth_google_client_secret: str | None = None
    identity_oauth_apple_client_id: str | None = None
    identity_oauth_apple_client_secret: str | None = None
    identity_oauth_devstack_client_id: str | None = None
    identity_oauth_devstack_client_secret: str | None = None
    identity_oauth_state_ttl_seconds: int = 600
    # AWS adapters (issue 4): SES email, S3 documents, KMS master key. The region comes from AWS_REGION (set by the
    # ECS task) unless DYNASTY_AWS_REGION says otherwise; the endpoint is None in production and points at a local
    # AWS emulator (moto) in tests. The HMAC key derives purpose keys (link tokens), which KMS cannot export.
    aws_region: str | None = Field(default=None, validation_alias=AliasChoices("DYNASTY_AWS_REGION", "AWS_REGION"))
    aws_endpoint_url: str | None = None  # DYNASTY_AWS_ENDPOINT_URL
    identity_kms_mac_key_id: str | None = None  # DYNASTY_IDENTITY_KMS_MAC_KEY_ID (a KMS HMAC_256 key)
    identity_ses_configuration_set: str | None = None  # DYNASTY_IDENTITY_SES_CONFIGURATION_SET
