"""Composition root of the challenges service: `python -m services.challenges.main`."""

from __future__ import annotations

from libs.platform.service_main import Runtime, Wiring, run_service

SERVICE = "challenges"
# Which services receive which of our events (outbox routing). Accounts and orders add theirs in later issues.
EVENT_ROUTES: dict[str, tuple[str, ...]] = {}


def wire(runtime: Runtime) -> Wiring:
    from dynasty.challenges.v1 import challenges_service_pb2_grpc
    from services.challenges.adapters.grpc.servicer import ChallengesServicer
    from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork
    from services.challenges.application.create_program_version import CreateProgramVersionHandler
    from services.challenges.application.get_program import GetProgramHandler
    from services.challenges.application.list_programs import ListProgramsHandler

    def uow() -> SqlAlchemyChallengesUnitOfWork:
        return SqlAlchemyChallengesUnitOfWork(
            runtime.sessions, schema=SERVICE, source=SERVICE, clock=runtime.clock, routes=EVENT_ROUTES
        )

    servicer = ChallengesServicer(
        list_programs=ListProgramsHandler(uow),
        get_program=GetProgramHandler(uow),
        create_program_version=CreateProgramVersionHandler(uow, runtime.clock),
    )

    def register(server) -> list[str]:
        challenges_service_pb2_grpc.add_ChallengesServiceServicer_to_server(servicer, server)
        return ["dynasty.challenges.v1.ChallengesService"]

    return Wiring(register=register)


def main() -> None:
    run_service(SERVICE, wire)


if __name__ == "__main__":
    main()
