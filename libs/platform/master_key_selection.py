"""Which envelope master key a service uses (libs/platform/crypto.py), chosen from its settings, the one way for
every service (as libs/platform/email_selection.py is for mail).

In AWS the master key is a KMS key (`kms_key_id`): it never leaves KMS and every unwrap is a CloudTrail-logged call.
In the devstack and tests it is a local 256-bit key: given as base64 (`local_key`), or read from a key file that is
created (mode 0600) on first use. Identity's composition passes its own settings here (after its own check that a
KMS key comes with the HMAC key its link tokens need); challenges uses this for the sealed platform passwords
(ADR 0045).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from libs.platform.crypto import EnvelopeCipher, LocalMasterKey
from libs.platform.email_selection import aws_client

if TYPE_CHECKING:  # boto3 is imported only when settings ask for KMS
    from libs.platform.aws_kms import KmsMasterKey

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class MasterKeyChoice:
    kms_key_id: str | None = None
    kms_mac_key_id: str | None = None  # only needed by callers that derive purpose keys (KmsMasterKey.derive)
    local_key: str | None = None  # base64 of 32 bytes
    key_file: str = ""  # relative paths are taken from the repository root (the devstack's .data)
    aws_region: str | None = None
    aws_endpoint_url: str | None = None  # None in production; moto's server in tests


def master_key(choice: MasterKeyChoice) -> LocalMasterKey | KmsMasterKey:
    if choice.kms_key_id:
        from libs.platform.aws_kms import KmsMasterKey

        client = aws_client("kms", region=choice.aws_region, endpoint_url=choice.aws_endpoint_url)
        return KmsMasterKey(client, choice.kms_key_id, mac_key_id=choice.kms_mac_key_id)
    if choice.local_key:
        return LocalMasterKey.from_base64(choice.local_key)
    if not choice.key_file:
        raise SystemExit("no master key: set a KMS key id, a base64 key or a key file")
    path = Path(choice.key_file)
    return LocalMasterKey.from_file(path if path.is_absolute() else REPO_ROOT / path)


def envelope_cipher(choice: MasterKeyChoice) -> EnvelopeCipher:
    return EnvelopeCipher(master_key(choice))
