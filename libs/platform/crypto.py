"""Envelope encryption for personal data and secrets kept in a database (tax ids, TOTP secrets, signing keys).

Each value gets its own random 256-bit data key; the value is sealed with AES-256-GCM under that key, and the data
key is itself sealed ("wrapped") by a master key. In AWS the master key is a KMS key (wrap/unwrap are KMS
Encrypt/Decrypt calls with an encryption context); in the devstack it is a local 256-bit key from settings or a key
file. Both sit behind `MasterKey`. The caller's `context` (for example "tax:<user id>") is bound to both layers as
associated data, so a ciphertext copied onto another row does not decrypt.

Stored form (ASCII): "v1.<wrapped data key>.<nonce>.<ciphertext>", each part URL-safe base64.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"


class MasterKey(Protocol):
    def wrap(self, data_key: bytes, context: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: str) -> bytes: ...


class DecryptionFailed(Exception):
    """The ciphertext was altered, belongs to another context, or was sealed under another master key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LocalMasterKey:
    """A 256-bit master key held in process memory (devstack and tests). Wraps with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the master key must be 32 bytes (256 bits)")
        self._aead = AESGCM(key)
        self._key = key

    @classmethod
    def from_base64(cls, text: str) -> LocalMasterKey:
        return cls(_unb64(text.strip()))

    @classmethod
    def from_file(cls, path: Path) -> LocalMasterKey:
        """Read the key file, creating it (mode 0600) with a fresh random key on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(_b64(secrets.token_bytes(32)) + "\n")
        return cls.from_base64(path.read_text())

    def wrap(self, data_key: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data_key, context.encode())

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], context.encode())
        except Exception:
            raise DecryptionFailed("the data key does not unwrap under this master key and context") from None

    def derive(self, purpose: str) -> bytes:
        """A separate 256-bit key for one purpose (e.g. HMAC-signing email links), so no key serves two uses."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self._key)


class EnvelopeCipher:
    def __init__(self, master_key: MasterKey) -> None:
        self._master = master_key

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(data_key).encrypt(nonce, plaintext, context.encode())
        wrapped = self._master.wrap(data_key, context)
        return ".".join((VERSION, _b64(wrapped), _b64(nonce), _b64(sealed)))

    def decrypt(self, stored: str, *, context: str) -> bytes:
        try:
            version, wrapped, nonce, sealed = stored.split(".")
        except ValueError:
            raise DecryptionFailed("not an envelope") from None
        if version != VERSION:
            raise DecryptionFailed(f"unknown envelope version {version!r}")
        data_key = self._master.unwrap(_unb64(wrapped), context)
        try:
            return AESGCM(data_key).decrypt(_unb64(nonce), _unb64(sealed), context.encode())
        except Exception:
            raise DecryptionFailed("the ciphertext was altered or belongs to another context") from None

    def encrypt_text(self, plaintext: str, *, context: str) -> str:
        return self.encrypt(plaintext.encode("utf-8"), context=context)

    def decrypt_text(self, stored: str, *, context: str) -> str:
        return self.decrypt(stored, context=context).decode("utf-8")
