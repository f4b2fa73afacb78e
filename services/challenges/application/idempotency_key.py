"""The Idempotency-Key a money-moving or state-changing request carries, checked once for every use case that
requires one: 1 to 255 characters, the gateway's own limit (gateway/routers/challenges_calls.py IdempotencyKey) and
what the idempotency table keeps."""

from __future__ import annotations

from libs.domain.errors import InvalidArgument

MAX_IDEMPOTENCY_KEY = 255


def require_idempotency_key(request_id: str) -> None:
    if not request_id or len(request_id) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument("an idempotency key of 1 to 255 characters is required", field="request_id")
