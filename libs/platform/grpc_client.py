"""gRPC client channels: every call carries a deadline; the channel retries only UNAVAILABLE (service config)."""

from __future__ import annotations

import json

import grpc

_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


def message_size_options(max_message_bytes: int | None) -> list[tuple[str, int]]:
    """Options raising gRPC's message limits (4 MiB received by default) on a server or channel; None keeps them."""
    if max_message_bytes is None:
        return []
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


def insecure_channel(target: str, *, max_message_bytes: int | None = None) -> grpc.aio.Channel:
    """Plain-text channel: inside the VPC the ECS Service Connect mesh carries TLS; here it is loopback.

    `max_message_bytes` raises the receive and send limits (gRPC receives 4 MiB by default) for a peer whose messages
    carry documents; None keeps gRPC's defaults.
    """
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.enable_retries", 1),
            *message_size_options(max_message_bytes),
        ],
    )
