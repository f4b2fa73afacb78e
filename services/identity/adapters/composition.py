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
