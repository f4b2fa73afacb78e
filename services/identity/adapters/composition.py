"""Building the identity adapters from settings (shared by main.py and the devstack's demo seed)."""

from __future__ import annotations

from pathlib import Path

from libs.platform.crypto import EnvelopeCipher, LocalMasterKey
from libs.platform.mailbox import LocalMailbox
from libs.platform.settings import IdentitySettings
from services.identity.adapters.argon2_hasher import Argon2PasswordHasher

REPO_ROOT = Path(__file__).resolve().parents[3]


def repo_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def master_key(settings: IdentitySettings) -> LocalMasterKey:
    if settings.identity_kms_key_id:
        # The KMS adapter (wrap = kms.Encrypt, unwrap = kms.Decrypt with the same encryption context) needs boto3,
        # which is not installed here; refuse to start rather than silently use a local key in AWS.
        raise SystemExit("DYNASTY_IDENTITY_KMS_KEY_ID is set but the KMS master-key adapter is not available")
    if settings.identity_master_key:
        return LocalMasterKey.from_base64(settings.identity_master_key)
    return LocalMasterKey.from_file(repo_path(settings.identity_master_key_file))


def cipher(settings: IdentitySettings, key: LocalMasterKey | None = None) -> EnvelopeCipher:
    return EnvelopeCipher(key or master_key(settings))


def password_hasher(settings: IdentitySettings) -> Argon2PasswordHasher:
    return Argon2PasswordHasher(
        time_cost=settings.identity_argon2_time_cost,
        memory_kib=settings.identity_argon2_memory_kib,
        parallelism=settings.identity_argon2_parallelism,
    )


def email_sender(settings: IdentitySettings) -> LocalMailbox:
    if settings.identity_email_backend != "local":
        raise SystemExit(
            f"email backend {settings.identity_email_backend!r} is not available (the SES adapter needs boto3)"
        )
    return LocalMailbox(repo_path(settings.identity_mail_dir), settings.identity_mail_from)


# -- KYC and OAuth (issue 4) -------------------------------------------------------------------------------------

# Each provider's public facts. Client ids and secrets come from settings (Secrets Manager in AWS); with
# DYNASTY_OIDC_ISSUER_OVERRIDE (the devstack) every provider points at the local OIDC provider and, unless set,
# uses its default client dynasty-<provider> / devstack-<provider>-secret (development-only values).
PROVIDER_DEFAULTS = {
    "google": {"issuer": "https://accounts.google.com", "scopes": ("openid", "email", "profile")},
    # Apple: asking for email or name makes it POST the answer (form_post); its token endpoint takes the client
    # secret (a JWT signed with the team's key, made by the deployment) in the body.
    "apple": {
        "issuer": "https://appleid.apple.com",
        "scopes": ("openid", "email", "name"),
        "response_mode": "form_post",
        "token_auth_method": "client_secret_post",
    },
    "devstack": {"issuer": None, "scopes": ("openid", "email", "profile")},
}


def oauth_providers(settings: IdentitySettings) -> dict:
    from services.identity.domain.oauth import OAuthProvider

    override = settings.oidc_issuer_override
    providers = {}
    for name, facts in PROVIDER_DEFAULTS.items():
        issuer = override or facts["issuer"]
        client_id = getattr(settings, f"identity_oauth_{name}_client_id")
        secret = getattr(settings, f"identity_oauth_{name}_client_secret")
        if override:
            client_id = client_id or f"dynasty-{name}"
            secret = secret or f"devstack-{name}-secret"
        if not issuer or not client_id:
            continue  # not configured here: the provider answers NOT_FOUND
        providers[name] = OAuthProvider(
            name=name,
            issuer=issuer.rstrip("/"),
            client_id=client_id,
            client_secret=secret,
            scopes=facts["scopes"],
            response_mode=facts.get("response_mode", "query"),
            token_auth_method=facts.get("token_auth_method", "client_secret_basic"),
        )
    return providers


class KycUnavailable:
    """Stands in for Stripe Identity when no Stripe key is configured: KYC answers FAILED_PRECONDITION."""

    async def create_session(self, **_kwargs):
        from libs.domain.errors import FailedPrecondition

        raise FailedPrecondition("identity verification is not configured here", reason="KYC_UNAVAILABLE")

    async def retrieve_session(self, session_id: str):
        return await self.create_session()


def identity_verifier(settings: IdentitySettings):
    if not settings.stripe_api_key:
        return KycUnavailable()
    from services.identity.adapters.stripe_identity import StripeIdentityVerifier

    return StripeIdentityVerifier(
        settings.stripe_api_key,
        base=settings.stripe_api_base,
        max_network_retries=2,
        timeout_seconds=settings.identity_stripe_timeout_seconds,
    )


def object_storage(settings: IdentitySettings):
    if settings.identity_object_storage_bucket:
        # The S3 adapter (put_object/get_object with SSE-KMS) needs boto3, which is not installed here.
        raise SystemExit("DYNASTY_IDENTITY_OBJECT_STORAGE_BUCKET is set but the S3 adapter is not available")
    from libs.platform.object_storage import LocalDirectoryObjectStorage

    return LocalDirectoryObjectStorage(repo_path(settings.identity_object_storage_dir))
