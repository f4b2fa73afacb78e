"""crypto.MasterKey backed by AWS KMS (production): the data key of each record is wrapped by KMS Encrypt and
unwrapped by KMS Decrypt, so the master key never leaves KMS and every unwrap is a CloudTrail-logged call.

The encryption context names the purpose and carries the caller's context (e.g. "tax:<user id>"); KMS binds it
as associated data, so a wrapped key copied onto another row, or used for another purpose, does not unwrap. We use
Encrypt rather than GenerateDataKey because crypto.EnvelopeCipher draws the data key itself and the MasterKey
protocol only wraps and unwraps; the guarantees are the same (the key is 32 random bytes from the OS).

`derive(purpose)` gives a purpose-bound 256-bit key, like LocalMasterKey.derive, as the HMAC-SHA-256 of the purpose
under a separate KMS HMAC key (KMS cannot export a symmetric key and does not allow one key to both encrypt and MAC).

The calls are synchronous, like the protocol: they cost one KMS round trip (a few milliseconds in-region) per
encrypt or decrypt.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from libs.platform.crypto import DecryptionFailed

DATA_KEY_PURPOSE = "dynasty:envelope-data-key"


class KmsMasterKey:
    def __init__(self, kms_client, key_id: str, *, mac_key_id: str | None = None) -> None:
        self._kms = kms_client  # a boto3 "kms" client
        self._key_id = key_id
        self._mac_key_id = mac_key_id

    @staticmethod
    def _encryption_context(context: str) -> dict[str, str]:
        return {"purpose": DATA_KEY_PURPOSE, "context": context}

    def wrap(self, data_key: bytes, context: str) -> bytes:
        answer = self._kms.encrypt(
            KeyId=self._key_id, Plaintext=data_key, EncryptionContext=self._encryption_context(context)
        )
        return answer["CiphertextBlob"]

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        try:
            answer = self._kms.decrypt(
                KeyId=self._key_id, CiphertextBlob=wrapped, EncryptionContext=self._encryption_context(context)
            )
        except ClientError as error:
            # InvalidCiphertextException is KMS's answer to a wrong context, another key or altered bytes; network
            # and permission failures are not a bad ciphertext and propagate as they are.
            if error.response.get("Error", {}).get("Code") in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise DecryptionFailed("the data key does not unwrap under this master key and context") from None
            raise
        return answer["Plaintext"]

    def derive(self, purpose: str) -> bytes:
        if not self._mac_key_id:
            raise RuntimeError("deriving a key with KMS needs an HMAC key (DYNASTY_IDENTITY_KMS_MAC_KEY_ID)")
        answer = self._kms.generate_mac(
            KeyId=self._mac_key_id, Message=purpose.encode("utf-8"), MacAlgorithm="HMAC_SHA_256"
        )
        return answer["Mac"]
