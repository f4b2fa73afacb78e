"""/v1/kyc: the caller's identity verification (Stripe Identity, through the identity service).

A document a reviewer asked for is uploaded as the raw request body, its media type in Content-Type and its kind in
the query (python-multipart is not a dependency of the gateway). Size and media type are refused here, before
identity is called, so a 2 GB body never crosses the network twice; identity checks both again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.auth import SignedIn
from gateway.identity_models import (
    KycCaseOut,
    KycDocumentKind,
    KycDocumentOut,
    KycSessionOut,
    kyc_case_out,
    kyc_document_out,
)
from gateway.problems import problem
from gateway.routers.identity_calls import identity_rpc

router = APIRouter(prefix="/v1/kyc", tags=["kyc"])

DOCUMENT_MAX_BYTES = 10 * 1024 * 1024  # identity's own limit (MAX_DOCUMENT_BYTES); 12 MiB gRPC messages carry it
DOCUMENT_CONTENT_TYPES = ("application/pdf", "image/jpeg", "image/png")


class KycSessionIn(BaseModel):
    return_url: str = Field(default="", max_length=2048, description="Where Stripe sends the user back to")


def _pb():
    from dynasty.identity.v1 import identity_service_pb2 as pb

    return pb


@router.post("/session", response_model=KycSessionOut, summary="Open (or reopen) the caller's verification")
async def create_kyc_session(request: Request, claims: SignedIn, body: KycSessionIn | None = None) -> KycSessionOut:
    return_url = body.return_url if body is not None else ""
    reply = await identity_rpc(
        request, "CreateKycSession", _pb().CreateKycSessionRequest(return_url=return_url), claims
    )
    return KycSessionOut(verification_url=reply.verification_url, kyc_case=kyc_case_out(reply.kyc_case))


@router.get("", response_model=KycCaseOut, summary="The caller's KYC case")
async def get_kyc(request: Request, claims: SignedIn) -> KycCaseOut:
    reply = await identity_rpc(request, "GetKyc", _pb().GetKycRequest(), claims)
    return kyc_case_out(reply.kyc_case)


def _media_type(content_type: str) -> str:
    """ "image/PNG; name=x" -> "image/png": parameters do not change what the document is."""
    return content_type.split(";", 1)[0].strip().lower()


def _too_large(request: Request) -> JSONResponse:
    return problem(
        413,
        f"a document is at most {DOCUMENT_MAX_BYTES} bytes",
        reason="DOCUMENT_TOO_LARGE",
        instance=request.url.path,
        extra={"max_bytes": DOCUMENT_MAX_BYTES},
    )


async def _body_within_limit(request: Request) -> bytes | None:
    """The body, or None once it passes the limit: read no further than that, whatever Content-Length claimed."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > DOCUMENT_MAX_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/documents",
    status_code=201,
    response_model=KycDocumentOut,
    summary="Upload a document a reviewer asked for (the raw file as the body)",
    responses={
        409: {"description": "No reviewer has asked for a document (the case is not in needs_review)"},
        413: {"description": "The body is over 10 MiB"},
        415: {"description": "Content-Type is not application/pdf, image/jpeg or image/png"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in DOCUMENT_CONTENT_TYPES},
        }
    },
)
async def upload_kyc_document(
    request: Request,
    claims: SignedIn,
    kind: Annotated[KycDocumentKind, Query(description="What the document is, e.g. proof_of_address")],
):
    content_type = _media_type(request.headers.get("content-type", ""))
    if content_type not in DOCUMENT_CONTENT_TYPES:
        return problem(
            415,
            f"Content-Type must be one of {', '.join(DOCUMENT_CONTENT_TYPES)}",
            reason="UNSUPPORTED_MEDIA_TYPE",
            instance=request.url.path,
            extra={"accepted": list(DOCUMENT_CONTENT_TYPES)},
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DOCUMENT_MAX_BYTES:
        return _too_large(request)
    content = await _body_within_limit(request)
    if content is None:
        return _too_large(request)
    message = _pb().UploadKycDocumentRequest(kind=kind, content_type=content_type, content=content)
    reply = await identity_rpc(request, "UploadKycDocument", message, claims)
    return kyc_document_out(reply.document)
