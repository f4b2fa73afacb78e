"""Sends outbox records over gRPC to the destination service's EventsService (the relay's production sender)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import grpc

from libs.platform.grpc_client import insecure_channel
from libs.platform.outbox import OutboxRecord


class GrpcEventSender:
    def __init__(self, targets: Mapping[str, str], *, timeout: float = 5.0) -> None:
        self._targets = dict(targets)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._timeout = timeout

    def _stub(self, destination: str):
        from dynasty.events.v1 import events_service_pb2_grpc

        if destination not in self._channels:
            self._channels[destination] = insecure_channel(self._targets[destination])
        return events_service_pb2_grpc.EventsServiceStub(self._channels[destination])

    async def __call__(self, record: OutboxRecord) -> None:
        from google.protobuf.timestamp_pb2 import Timestamp

        from dynasty.events.v1 import events_service_pb2

        occurred = Timestamp()
        occurred.FromDatetime(record.occurred_at)
        await self._stub(record.destination).DeliverEvent(
            events_service_pb2.DeliverEventRequest(
                event_id=record.event_id,
                event_type=record.event_type,
                source=record.source,
                aggregate_id=record.aggregate_id,
                aggregate_version=record.aggregate_version,
                occurred_at=occurred,
                payload_json=json.dumps(record.payload, sort_keys=True),
            ),
            timeout=self._timeout,
        )

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
