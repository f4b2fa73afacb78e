"""KYC documents over real gRPC: identity's servicer in the shared ServiceServer (interceptors, token verification,
the 12 MiB message limit identity's wiring uses), real PostgreSQL, Redis and object storage, the Stripe stand-in
for the case's session. A trader uploads a document a reviewer asked for; support reads it back, audited."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sqlalchemy import select

from dynasty.identity.v1 import identity_service_pb2 as pb
from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc
from libs.domain.clock import SystemClock
from libs.platform.auth import TokenVerifier
from libs.platform.grpc_errors import error_info
from libs.platform.grpc_server import ServiceServer
from libs.platform.tables import platform_tables
from services.identity.adapters.grpc.servicer import IdentityServicer
from services.identity.application.login import Login
from services.identity.application.review_kyc import ReviewKyc
from services.identity.domain.kyc import ReviewDecision
from services.identity.domain.user import Role
from services.identity.main import MAX_MESSAGE_BYTES
from tests.integration.identity import test_kyc
from tests.integration.identity.conftest import PASSWORD, client
from tests.integration.identity.test_kyc import reviewer, trader_with_session

# test_kyc's fixtures, used here as they are: the Stripe stand-in (the case needs a session) and identity built on it.
kyc, standin, receiver, objects_dir = test_kyc.kyc, test_kyc.standin, test_kyc.receiver, test_kyc.objects_dir

# Over gRPC's 4 MiB default: the call only succeeds because the server takes MAX_MESSAGE_BYTES.
STATEMENT = b"%PDF-1.7 bank statement of Ann Lee " + bytes(6 * 1024 * 1024)


@pytest.fixture
async def stub(kyc, redis):
    server = ServiceServer(
        "identity",
        host="127.0.0.1",
        port=0,
        register=lambda s: (pb_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(kyc.use_cases), s), [])[1],
        authenticator=TokenVerifier(kyc.jwks, redis),
        max_message_bytes=MAX_MESSAGE_BYTES,
    )
    await server.start()
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{server.port}", options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    )
    yield pb_grpc.IdentityServiceStub(channel)
    await channel.close()
    await server.stop()


def bearer(token: str):
    return (("authorization", f"Bearer {token}"),)


async def support_token(kyc) -> tuple[str, str]:
    """A support user's access token signed in with TOTP, issued by identity's own issuer."""
    support_id = uuid.uuid4()
    now = SystemClock().now()
    issued = await kyc.issuer.issue(
        user_id=support_id, role=Role.SUPPORT, session_id=uuid.uuid4(), amr=("pwd", "otp"), mfa_at=now, now=now
    )
    return str(support_id), issued.token


async def test_a_requested_document_uploads_and_reads_back_over_grpc(kyc, stub, standin, mail_dir, unique):
    user, _opened = await trader_with_session(kyc, mail_dir, unique, standin)
    trader = (await kyc.use_cases.login(Login(email=user.email, password=PASSWORD, client=client()))).session
    too_early = await rpc_error(
        stub.UploadKycDocument(
            pb.UploadKycDocumentRequest(kind="proof_of_address", content_type="application/pdf", content=STATEMENT),
            metadata=bearer(trader.access_token),
            timeout=20,
        )
    )
    assert too_early.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(too_early).reason == "KYC_DOCUMENT_NOT_REQUESTED"
    await kyc.use_cases.review_kyc(
        ReviewKyc(reviewer(), str(user.user_id), ReviewDecision.NEEDS_REVIEW, "please upload a bank statement")
    )

    uploaded = await stub.UploadKycDocument(
        pb.UploadKycDocumentRequest(kind="proof_of_address", content_type="application/pdf", content=STATEMENT),
        metadata=bearer(trader.access_token),
        timeout=20,
    )

    document = uploaded.document
    assert document.user_id == str(user.user_id)
    assert (document.kind, document.content_type, document.size_bytes) == (
        "proof_of_address",
        "application/pdf",
        len(STATEMENT),
    )
    assert uuid.UUID(document.document_id) and document.uploaded_at.seconds > 0
    support_id, support = await support_token(kyc)
    read = await stub.GetKycDocument(
        pb.GetKycDocumentRequest(document_id=document.document_id), metadata=bearer(support), timeout=20
    )
    assert read.content == STATEMENT
    assert read.document == document
    refused = await rpc_error(
        stub.GetKycDocument(
            pb.GetKycDocumentRequest(document_id=document.document_id),
            metadata=bearer(trader.access_token),
            timeout=20,
        )
    )
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    async with kyc.engine.connect() as connection:
        audit = platform_tables("identity")["audit_log"]
        rows = (
            await connection.execute(
                select(audit.c.action, audit.c.actor_id).where(audit.c.subject_id == str(user.user_id))
            )
        ).all()
    assert [(r.action, r.actor_id) for r in rows if r.action.startswith("kyc.document_")] == [
        ("kyc.document_uploaded", str(user.user_id)),
        ("kyc.document_read", support_id),
    ]


async def test_an_unknown_document_is_not_found_and_a_malformed_id_invalid(kyc, stub):
    _, support = await support_token(kyc)

    missing = await rpc_error(
        stub.GetKycDocument(pb.GetKycDocumentRequest(document_id=str(uuid.uuid4())), metadata=bearer(support))
    )
    malformed = await rpc_error(
        stub.GetKycDocument(pb.GetKycDocumentRequest(document_id="not-a-uuid"), metadata=bearer(support))
    )

    assert missing.code() is grpc.StatusCode.NOT_FOUND
    assert error_info(missing).reason == "KYC_DOCUMENT_NOT_FOUND"
    assert malformed.code() is grpc.StatusCode.INVALID_ARGUMENT


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value
