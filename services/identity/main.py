"""Composition root of the identity service: `python -m services.identity.main`.

The walking skeleton serves health, reflection and the event inbox over its own schema; the identity use cases
arrive with the issue that builds them.
"""

from __future__ import annotations

from libs.platform.service_main import Runtime, Wiring, run_service

SERVICE = "identity"


def wire(runtime: Runtime) -> Wiring:
    from dynasty.identity.v1 import identity_service_pb2_grpc

    def register(server) -> list[str]:
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server(
            identity_service_pb2_grpc.IdentityServiceServicer(), server
        )
        return ["dynasty.identity.v1.IdentityService"]

    return Wiring(register=register)


def main() -> None:
    run_service(SERVICE, wire)


if __name__ == "__main__":
    main()
