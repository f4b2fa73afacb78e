"""dynasty.challenges.v1.ChallengesService: translate, call the use case, translate back. Nothing else."""

from __future__ import annotations

from dynasty.challenges.v1 import challenges_service_pb2 as pb
from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
from libs.platform.grpc_errors import current_caller
from libs.platform.paging import decode_page_token, encode_page_token
from services.challenges.adapters.grpc.mapping import create_program_version_from_pb, program_to_pb
from services.challenges.application.create_program_version import CreateProgramVersionHandler
from services.challenges.application.get_program import GetProgram, GetProgramHandler
from services.challenges.application.list_programs import ListPrograms, ListProgramsHandler


class ChallengesServicer(pb_grpc.ChallengesServiceServicer):
    def __init__(
        self,
        list_programs: ListProgramsHandler,
        get_program: GetProgramHandler,
        create_program_version: CreateProgramVersionHandler,
    ) -> None:
        self._list_programs = list_programs
        self._get_program = get_program
        self._create_program_version = create_program_version

    async def ListPrograms(self, request: pb.ListProgramsRequest, context) -> pb.ListProgramsResponse:
        page = await self._list_programs(
            ListPrograms(page_size=request.page_size, after_key=decode_page_token(request.page_token))
        )
        return pb.ListProgramsResponse(
            programs=[program_to_pb(p) for p in page.programs],
            next_page_token=encode_page_token(page.next_after_key),
        )

    async def GetProgram(self, request: pb.GetProgramRequest, context) -> pb.GetProgramResponse:
        version = await self._get_program(GetProgram(request.program_id, request.version or None))
        return pb.GetProgramResponse(program=program_to_pb(version))

    async def CreateProgramVersion(
        self, request: pb.CreateProgramVersionRequest, context
    ) -> pb.CreateProgramVersionResponse:
        command = create_program_version_from_pb(request, current_caller())
        version = await self._create_program_version(command)
        return pb.CreateProgramVersionResponse(program=program_to_pb(version))
