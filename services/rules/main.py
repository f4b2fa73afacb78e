"""Composition root of the rules service: `python -m services.rules.main`.

The walking skeleton serves health, reflection and the event inbox over its own schema; the rules use cases
arrive with the issue that builds them.
"""

from __future__ import annotations

from libs.platform.service_main import Runtime, Wiring, run_service

SERVICE = "rules"


def wire(runtime: Runtime) -> Wiring:
    from dynasty.rules.v1 import rules_service_pb2_grpc

    def register(server) -> list[str]:
        rules_service_pb2_grpc.add_RulesServiceServicer_to_server(rules_service_pb2_grpc.RulesServiceServicer(), server)
        return ["dynasty.rules.v1.RulesService"]

    return Wiring(register=register)


def main() -> None:
    run_service(SERVICE, wire)


if __name__ == "__main__":
    main()
