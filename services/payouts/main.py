"""Composition root of the payouts service: `python -m services.payouts.main`.

The walking skeleton serves health, reflection and the event inbox over its own schema; the payouts use cases
arrive with the issue that builds them.
"""

from __future__ import annotations

from libs.platform.service_main import Runtime, Wiring, run_service

SERVICE = "payouts"


def wire(runtime: Runtime) -> Wiring:
    from dynasty.payouts.v1 import payouts_service_pb2_grpc

    def register(server) -> list[str]:
        payouts_service_pb2_grpc.add_PayoutsServiceServicer_to_server(
            payouts_service_pb2_grpc.PayoutsServiceServicer(), server
        )
        return ["dynasty.payouts.v1.PayoutsService"]

    return Wiring(register=register)


def main() -> None:
    run_service(SERVICE, wire)


if __name__ == "__main__":
    main()
