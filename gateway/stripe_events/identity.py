"""Stripe Identity events (identity.verification_session.*) -> IdentityService.ApplyKycVerificationEvent.

Only what identity needs crosses: the event id (its de-duplication key), the type, the session id, Stripe's
`created` time (how identity orders events that arrive out of order) and the session's last error code. An event
for a session identity never opened (NOT_FOUND) is acknowledged: a retry would not make it ours. Any other failure
propagates, the endpoint answers non-2xx, and Stripe delivers the event again later.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import grpc
from fastapi import Request
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.routers.identity_calls import identity_rpc
from libs.domain.errors import InvalidArgument

log = logging.getLogger(__name__)


def to_request(event: dict[str, Any]):
    """The RPC request for a Stripe event as Stripe sent it (a dict); InvalidArgument when it lacks a part."""
    from dynasty.identity.v1 import identity_service_pb2 as pb

    session = (event.get("data") or {}).get("object") or {}
    created = event.get("created")
    if not isinstance(session, dict) or not session.get("id") or not isinstance(created, int):
        raise InvalidArgument("the event carries no verification session or creation time", field="data.object")
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromtimestamp(created, tz=UTC))
    last_error = session.get("last_error") or {}
    return pb.ApplyKycVerificationEventRequest(
        stripe_event_id=event["id"],
        event_type=event["type"],
        verification_session_id=session["id"],
        event_created_at=stamp,
        last_error_code=(last_error.get("code") or "") if isinstance(last_error, dict) else "",
    )


async def forward(event: dict[str, Any], payload: bytes, request: Request) -> None:
    try:
        reply = await identity_rpc(request, "ApplyKycVerificationEvent", to_request(event))
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.NOT_FOUND:
            log.info(
                "Stripe event %s concerns a verification session identity does not know; acknowledged", event["id"]
            )
            return
        raise
    if reply.duplicate:
        log.info("Stripe event %s was applied before; nothing changed", event["id"])
