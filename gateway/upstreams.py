"""The gateway's gRPC channels to the services, built once at start-up and closed at shutdown."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from libs.platform.grpc_client import insecure_channel
from libs.platform.logging import REQUEST_ID_HEADER, request_id_var

# KYC documents (up to 10 MiB) travel whole in one message to and from identity; gRPC's default is 4 MiB received.
# Only identity's channel is raised: no other service has a reason to send the gateway messages that large.
IDENTITY_MAX_MESSAGE_BYTES = 12 * 1024 * 1024


class Upstreams:
    def __init__(self, targets: Mapping[str, str], timeout: float) -> None:
        self.targets = dict(targets)
        self.timeout = timeout
        self.channels: dict[str, grpc.aio.Channel] = {
            name: insecure_channel(t, max_message_bytes=IDENTITY_MAX_MESSAGE_BYTES if name == "identity" else None)
            for name, t in targets.items()
        }

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The request id alone; routes with a caller use gateway.client.call_metadata (token and client facts)."""
        return ((REQUEST_ID_HEADER, request_id_var.get()),)

    def identity(self):
        from dynasty.identity.v1 import identity_service_pb2_grpc

        return identity_service_pb2_grpc.IdentityServiceStub(self.channels["identity"])

    def challenges(self):
        from dynasty.challenges.v1 import challenges_service_pb2_grpc

        return challenges_service_pb2_grpc.ChallengesServiceStub(self.channels["challenges"])

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
