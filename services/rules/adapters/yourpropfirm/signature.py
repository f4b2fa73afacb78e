"""X-YPF-Signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (docs/integrations.md)."""

from __future__ import annotations

import hashlib
import hmac


class BadSignature(ValueError):
    pass


def parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature("the signature's t is not a number") from None
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise BadSignature("the signature header needs t and v1")
    return timestamp, signatures


def expected(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: float | None = None) -> int:
    """The signed timestamp when `header` signs `body` under `secret` (and, with a tolerance, is recent enough)."""
    timestamp, signatures = parse_header(header)
    want = expected(secret, timestamp, body)
    if not any(hmac.compare_digest(want, given) for given in signatures):
        raise BadSignature("the signature does not match the body")
    if tolerance is not None and now is not None and abs(now - timestamp) > tolerance:
        raise BadSignature("the signature's timestamp is outside the tolerance")
    return timestamp
