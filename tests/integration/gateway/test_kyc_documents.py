"""KYC documents through the gateway, against the canned identity peer over real gRPC: what the gateway refuses
itself (too large, wrong media type) before identity hears of it, what it forwards (the exact bytes, the kind, the
caller's token), and how staff get a document back (its own media type, never cached)."""

from __future__ import annotations

import time
import uuid

import pytest

from libs.domain.errors import FailedPrecondition, NotFound
from tests.integration.gateway.fake_upstream import KYC_DOCUMENT, USER

LIMIT = 10 * 1024 * 1024
BILL = b"%PDF-1.7 utility bill of Ann Lee, 1 Main St"
UPLOAD = "/v1/kyc/documents"


def document_path(user_id: str = USER.user_id, document_id: str = KYC_DOCUMENT.document_id) -> str:
    return f"/v1/admin/users/{user_id}/kyc/documents/{document_id}"


@pytest.fixture(scope="module")
def trader(keys) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.mint(f'trader-{uuid.uuid4().hex[:8]}', 'trader')}"}


@pytest.fixture(scope="module")
def support(keys) -> dict[str, str]:
    token = keys.mint(f"support-{uuid.uuid4().hex[:8]}", "support", amr=("pwd", "otp"), mfa_at=int(time.time()))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def served_content(upstream):
    """Restore the canned peer's document bytes after a test that replaced them."""
    original = upstream.identity.kyc_document_content
    yield
    upstream.identity.kyc_document_content = original


def calls_to(upstream, method: str) -> int:
    return sum(1 for name, _, _ in upstream.identity.calls if name == method)


def assert_problem(reply, status: int, reason: str) -> dict:
    assert reply.status_code == status, reply.text[:300]
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status and body["reason"] == reason
    return body


async def test_an_upload_reaches_identity_byte_for_byte_with_its_kind_type_and_caller(http, upstream, trader):
    reply = await http.post(
        UPLOAD,
        params={"kind": "proof_of_address"},
        content=BILL,
        headers={**trader, "Content-Type": "application/PDF; name=bill.pdf"},
    )

    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["kind"] == "proof_of_address" and body["content_type"] == "application/pdf"
    assert body["size_bytes"] == len(BILL) and body["user_id"] == USER.user_id
    method, request, metadata = upstream.identity.calls[-1]
    assert method == "UploadKycDocument"
    assert request.content == BILL
    assert request.kind == "proof_of_address" and request.content_type == "application/pdf"
    assert metadata["authorization"] == trader["Authorization"]


async def test_a_document_of_exactly_ten_mib_is_forwarded_whole(http, upstream, trader):
    """Forwarded whole and intact; the peer receives up to 12 MiB, as identity's server does."""
    document = b"\x89PNG" + bytes(LIMIT - 4)

    reply = await http.post(
        UPLOAD, params={"kind": "selfie"}, content=document, headers={**trader, "Content-Type": "image/png"}
    )

    assert reply.status_code == 201, reply.text[:300]
    assert reply.json()["size_bytes"] == LIMIT
    assert upstream.identity.calls[-1][1].content == document


async def test_a_body_over_ten_mib_is_413_and_identity_never_hears_of_it(http, upstream, trader):
    before = calls_to(upstream, "UploadKycDocument")

    reply = await http.post(
        UPLOAD,
        params={"kind": "id_document"},
        content=bytes(LIMIT + 1),
        headers={**trader, "Content-Type": "image/jpeg"},
    )

    body = assert_problem(reply, 413, "DOCUMENT_TOO_LARGE")
    assert body["max_bytes"] == LIMIT
    assert calls_to(upstream, "UploadKycDocument") == before


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(http, upstream, trader):
    """No Content-Length to refuse on: the gateway stops reading once the limit is passed."""
    before = calls_to(upstream, "UploadKycDocument")
    chunk = bytes(1024 * 1024)

    async def eleven_mib():
        for _ in range(11):
            yield chunk

    reply = await http.post(
        UPLOAD, params={"kind": "id_document"}, content=eleven_mib(), headers={**trader, "Content-Type": "image/jpeg"}
    )

    assert_problem(reply, 413, "DOCUMENT_TOO_LARGE")
    assert calls_to(upstream, "UploadKycDocument") == before


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", "image/svg+xml", ""])
async def test_a_media_type_other_than_pdf_jpeg_or_png_is_415(http, upstream, trader, content_type):
    before = calls_to(upstream, "UploadKycDocument")
    headers = {**trader, **({"Content-Type": content_type} if content_type else {})}

    reply = await http.post(UPLOAD, params={"kind": "proof_of_address"}, content=BILL, headers=headers)

    body = assert_problem(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert body["accepted"] == ["application/pdf", "image/jpeg", "image/png"]
    assert calls_to(upstream, "UploadKycDocument") == before


async def test_an_unknown_kind_is_400_before_identity(http, upstream, trader):
    before = calls_to(upstream, "UploadKycDocument")

    reply = await http.post(
        UPLOAD, params={"kind": "passport_scan"}, content=BILL, headers={**trader, "Content-Type": "application/pdf"}
    )

    assert_problem(reply, 400, "INVALID_ARGUMENT")
    assert calls_to(upstream, "UploadKycDocument") == before


async def test_a_document_nobody_asked_for_is_409_from_identity(http, upstream, trader):
    upstream.identity.refuse_next = FailedPrecondition(
        "documents are taken only when a reviewer has asked for them", reason="KYC_DOCUMENT_NOT_REQUESTED"
    )

    reply = await http.post(
        UPLOAD, params={"kind": "proof_of_address"}, content=BILL, headers={**trader, "Content-Type": "application/pdf"}
    )

    assert_problem(reply, 409, "KYC_DOCUMENT_NOT_REQUESTED")


async def test_staff_get_the_bytes_in_their_media_type_and_nothing_caches_them(http, upstream, support):
    reply = await http.get(document_path(), headers=support)

    assert reply.status_code == 200, reply.text
    assert reply.content == upstream.identity.kyc_document_content
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-disposition"].startswith("attachment;")
    method, request, metadata = upstream.identity.calls[-1]
    assert method == "GetKycDocument" and request.document_id == KYC_DOCUMENT.document_id
    assert metadata["authorization"] == support["Authorization"]


async def test_a_document_over_four_mib_comes_back_through_the_identity_channel(
    http, upstream, support, served_content
):
    # gRPC receives 4 MiB by default: without the gateway's 12 MiB identity channel this is RESOURCE_EXHAUSTED.
    upstream.identity.kyc_document_content = b"%PDF-1.7" + bytes(9 * 1024 * 1024)

    reply = await http.get(document_path(), headers=support)

    assert reply.status_code == 200, reply.text[:300]
    assert reply.content == upstream.identity.kyc_document_content


async def test_a_document_of_another_user_is_404(http, upstream, support):
    other_user = "00000000-0000-4000-8000-00000000beef"

    reply = await http.get(document_path(user_id=other_user), headers=support)

    assert_problem(reply, 404, "KYC_DOCUMENT_NOT_FOUND")
    assert "%PDF" not in reply.text


async def test_an_unknown_document_is_404_from_identity(http, upstream, support):
    upstream.identity.refuse_next = NotFound("document not found", reason="KYC_DOCUMENT_NOT_FOUND")

    reply = await http.get(document_path(document_id=str(uuid.uuid4())), headers=support)

    assert_problem(reply, 404, "KYC_DOCUMENT_NOT_FOUND")
