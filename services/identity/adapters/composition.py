"""Building the identity adapters from settings (shared by main.py and the devstack's demo seed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from libs.platform import email_selection, master_key_selection
from libs.platform.crypto import EnvelopeCipher, LocalMasterKey
from libs.platform.mailbox import LocalMailbox
from libs.platform.settings import IdentitySettings
from services.identity.adapters.argon2_hasher import Argon2PasswordHasher

if TYPE_CHECKING:  # boto3 is imported only when settings ask for an AWS adapter
    from libs.platform.aws_email import SesEmailSender
    from libs.platform.aws_kms import KmsMasterKey

REPO_ROOT = Path(__file__).resolve().parents[3]


def repo_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def aws_client(settings: IdentitySettings, service: str):
    """A boto3 client for one AWS service. Credentials come from boto3's own chain (the ECS task role in AWS);
    the endpoint is None in production and a local emulator in tests (DYNASTY_AWS_ENDPOINT_URL)."""
    return email_selection.aws_client(service, region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


def master_key(settings: IdentitySettings) -> LocalMasterKey | KmsMasterKey:
    # Link tokens need a derived key, which KMS only gives through an HMAC key: refuse to start without it rather
    # than silently fall back to a local key. The rest of the choice is every service's (master_key_selection).
    if settings.identity_kms_key_id and not settings.identity_kms_mac_key_id:
        raise SystemExit("DYNASTY_IDENTITY_KMS_KEY_ID is set but DYNASTY_IDENTITY_KMS_MAC_KEY_ID is not")
    return master_key_selection.master_key(
        master_key_selection.MasterKeyChoice(
            kms_key_id=settings.identity_kms_key_id,
            kms_mac_key_id=settings.identity_kms_mac_key_id,
            local_key=settings.identity_master_key,
            key_file=settings.identity_master_key_file,
            aws_region=settings.aws_region,
            aws_endpoint_url=settings.aws_endpoint_url,
        )
    )


def cipher(settings: IdentitySettings, key: LocalMasterKey | KmsMasterKey | None = None) -> EnvelopeCipher:
    return EnvelopeCipher(key or master_key(settings))


def password_hasher(settings: IdentitySettings) -> Argon2PasswordHasher:
    return Argon2PasswordHasher(
        time_cost=settings.identity_argon2_time_cost,
        memory_kib=settings.identity_argon2_memory_kib,
        parallelism=settings.identity_argon2_parallelism,
    )


def email_sender(settings: IdentitySettings) -> LocalMailbox | SesEmailSender:
    return email_selection.email_sender(
        email_selection.EmailChoice(
            backend=settings.identity_email_backend,
            sender=settings.identity_mail_from,
            mail_dir=repo_path(settings.identity_mail_dir),
            aws_region=settings.aws_region,
            aws_endpoint_url=settings.aws_endpoint_url,
            ses_configuration_set=settings.identity_ses_configuration_set,
        )
    )


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
        # SSE-KMS under the identity key when there is one (S3's second layer, ADR 0039); without it S3 uses the
        # AWS-managed aws/s3 key, still SSE-KMS.
        from libs.platform.aws_storage import S3ObjectStorage

        return S3ObjectStorage(
            aws_client(settings, "s3"),
            settings.identity_object_storage_bucket,
            kms_key_id=settings.identity_kms_key_id,
        )
    from libs.platform.object_storage import LocalDirectoryObjectStorage

    return LocalDirectoryObjectStorage(repo_path(settings.identity_object_storage_dir))
