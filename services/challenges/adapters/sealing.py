"""application.ports.SecretSealer over the project's envelope encryption (libs/platform/crypto.py, ADR 0035)."""

from __future__ import annotations

from libs.platform.crypto import EnvelopeCipher


class EnvelopeSealer:
    def __init__(self, cipher: EnvelopeCipher) -> None:
        self._cipher = cipher

    def seal(self, plaintext: str, *, context: str) -> str:
        return self._cipher.encrypt_text(plaintext, context=context)

    def open(self, sealed: str, *, context: str) -> str:
        return self._cipher.decrypt_text(sealed, context=context)
