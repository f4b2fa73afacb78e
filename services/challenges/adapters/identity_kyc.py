"""Identity's KYC answer over gRPC (GetKyc), for funding (ADR 0046).

The call carries the caller's own bearer token: a trader may read only their own case and staff any, which is
identity's rule, not ours. Only KYC_STATUS_APPROVED counts, and a user identity does not know is not approved; any
other failure to get an answer is KycUnavailable, so a funding attempt is refused (and can be repeated) rather than
decided on a guess.
"""

from __future__ import annotations

import grpc

from services.challenges.application.ports import KycUnavailable


class IdentityKycDirectory:
    def __init__(self, target: str, timeout: float = 5.0) -> None:
        from libs.platform.grpc_client import insecure_channel

        self._channel = insecure_channel(target)
        self._timeout = timeout

    async def kyc_approved(self, user_id: str, *, bearer_token: str | None) -> bool:
        from dynasty.identity.v1 import identity_service_pb2 as pb
        from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc

        metadata = (("authorization", f"Bearer {bearer_token}"),) if bearer_token else ()
        try:
            reply = await pb_grpc.IdentityServiceStub(self._channel).GetKyc(
                pb.GetKycRequest(user_id=user_id), timeout=self._timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False  # identity has no such user: certainly not approved (a definite answer, not an outage)
            raise KycUnavailable(f"identity did not answer GetKyc: {exc.code().name} {exc.details()}") from exc
        return reply.kyc_case.status == pb.KYC_STATUS_APPROVED

    async def close(self) -> None:
        await self._channel.close()
