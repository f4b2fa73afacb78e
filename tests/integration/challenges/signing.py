"""Sign a webhook body as Stripe does (t=<unix>,v1=HMAC-SHA256 of "<t>.<body>"), for replay tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from tests.integration.challenges.conftest import WEBHOOK_SECRET


def sign(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    stamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def signed(event) -> tuple[bytes, str]:
    body = json.dumps(event.to_dict() if hasattr(event, "to_dict") else event).encode()
    return body, sign(body)
