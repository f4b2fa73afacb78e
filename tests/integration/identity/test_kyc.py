"""KYC end to end inside identity: the official Stripe SDK against the Stripe stand-in (run for real), its signed
identity.verification_session.* webhooks verified and translated exactly as the gateway does, applied through the
servicer to real PostgreSQL; reviewer decisions and the transition table; documents encrypted at rest."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import stripe
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from devstack.stripe_standin.app import build_app
from dynasty.identity.v1 import identity_service_pb2 as pb
from libs.domain.clock import SystemClock
from libs.domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from libs.platform.db import create_engine, session_factory
from libs.platform.tables import platform_tables
from services.identity.adapters.grpc.servicer import IdentityServicer
from services.identity.application.common import Actor
from services.identity.application.create_kyc_session import CreateKycSession, idempotency_key
from services.identity.application.get_kyc import GetKyc
from services.identity.application.get_me import GetMe
from services.identity.application.read_kyc_document import ReadKycDocument
from services.identity.application.review_kyc import ReviewKyc
from services.identity.application.upload_kyc_document import UploadKycDocument
from services.identity.domain.kyc import ReviewDecision
from services.identity.domain.user import KycStatus
from services.identity.main import build_identity
from tests.integration.identity.conftest import active_user, actor_for, identity_test_settings, usable_signing_key
from tests.integration.identity.kyc_support import (
    STRIPE_KEY,
    WEBHOOK_SECRET,
    StripeStandin,
    deliver,
    start_receiver,
)
from tests.integration.standins.conftest import ServerThread, free_port

PASSPORT = b"%PDF-1.7 passport of Ann Lee, number X1234567, born 1990-01-01"


@pytest.fixture
def receiver():
    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def standin(tmp_path: Path, receiver):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = build_app(tmp_path / "stripe", public_url=url, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)
    with ServerThread(app, port), httpx.Client(base_url=url, timeout=10) as control:
        standin = StripeStandin(url, control)
        standin.configure(retry_base_seconds=0.05, retry_max_seconds=0.2)
        yield standin


@pytest.fixture
def objects_dir(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
async def kyc(database_url, redis, redis_url, mail_dir, standin, objects_dir):
    settings = identity_test_settings(
        database_url,
        redis_url,
        mail_dir,
        stripe_api_base=standin.url,
        stripe_api_key=STRIPE_KEY,
        identity_object_storage_dir=str(objects_dir),
    )
    engine = create_engine(database_url, "identity", pool_size=5)
    components = build_identity(settings, session_factory(engine), SystemClock(), redis)
    await usable_signing_key(components)
    components.engine = engine
    yield components
    await engine.dispose()


@pytest.fixture
def servicer(kyc) -> IdentityServicer:
    return IdentityServicer(kyc.use_cases)


def reviewer(role: str = "support") -> Actor:
    return Actor(actor_id=str(uuid.uuid4()), role=role, ip="198.18.7.7", has_mfa=True)


async def trader_with_session(kyc, mail_dir, unique: str, standin: StripeStandin):
    user = await active_user(kyc, mail_dir, f"kyc-{unique}@example.com")
    opened = await kyc.use_cases.create_kyc_session(
        CreateKycSession(actor=actor_for(user), return_url="https://app.example.com/kyc/done")
    )
    return user, opened


async def deliver_all(servicer, deliveries) -> list[pb.ApplyKycVerificationEventResponse]:
    return [await deliver(servicer, body, signature) for body, signature in deliveries]


def types(deliveries) -> list[str]:
    return [json.loads(body)["type"].rsplit(".", 1)[1] for body, _ in deliveries]


async def test_a_session_verified_at_stripe_approves_the_case(kyc, servicer, standin, receiver, mail_dir, unique):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)

    assert opened.case.status is KycStatus.PENDING
    session_id = opened.case.verification_session_id
    assert session_id.startswith("vs_") and opened.verification_url.startswith(standin.url)
    at_stripe = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": standin.url}).v1.identity
    stored = at_stripe.verification_sessions.retrieve(session_id)
    assert stored.client_reference_id == stored.metadata["user_id"] == str(user.user_id)

    standin.drive(session_id, "verify")
    deliveries = receiver.wait_for(lambda events: len(events) == 3, session_id)
    replies = await deliver_all(servicer, deliveries)

    assert types(deliveries) == ["created", "processing", "verified"]
    assert [r.duplicate for r in replies] == [False, False, False]
    assert replies[-1].kyc_case.status == pb.KYC_STATUS_APPROVED
    case = await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))
    assert case.status is KycStatus.APPROVED and case.verification_session_id == session_id
    me = await kyc.use_cases.get_me(GetMe(actor=actor_for(user)))
    assert me.kyc_status is KycStatus.APPROVED  # the user record shows it too


async def test_requires_input_puts_the_case_in_review(kyc, servicer, standin, receiver, mail_dir, unique):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    session_id = opened.case.verification_session_id

    standin.drive(session_id, "requires_input", code="document_expired")
    deliveries = receiver.wait_for(lambda events: len(events) == 3, session_id)
    await deliver_all(servicer, deliveries)

    case = await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))
    assert types(deliveries) == ["created", "processing", "requires_input"]
    assert case.status is KycStatus.NEEDS_REVIEW and case.last_error_code == "document_expired"


async def test_duplicated_and_reversed_deliveries_change_nothing(kyc, servicer, standin, receiver, mail_dir, unique):
    # Every delivery twice, and each window of three sent newest first: verified arrives before processing.
    standin.configure(duplicates=1, order="reverse", window_size=3, window_wait_seconds=0.3)
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    session_id = opened.case.verification_session_id

    standin.drive(session_id, "requires_input", code="selfie_face_mismatch")
    deliveries = receiver.wait_for(lambda events: len(events) == 6, session_id)
    replies = await deliver_all(servicer, deliveries)

    arrived = types(deliveries)
    assert arrived.index("requires_input") < arrived.index("processing")  # out of order, as asked
    assert sum(r.duplicate for r in replies) == 3  # each event applied once, its copy recognised by its id
    case = await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))
    # A naive consumer would end in pending (processing applied last); the stale processing changed nothing.
    assert case.status is KycStatus.NEEDS_REVIEW
    again = await deliver_all(servicer, deliveries)  # Stripe redelivering the lot a day later
    assert all(r.duplicate for r in again)
    assert (await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))).version == case.version


def hand_made(session_id: str, event_id: str, kind: str, at: datetime, code: str = ""):
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return pb.ApplyKycVerificationEventRequest(
        stripe_event_id=event_id,
        event_type=f"identity.verification_session.{kind}",
        verification_session_id=session_id,
        event_created_at=stamp,
        last_error_code=code,
    )


async def test_a_stale_event_does_not_undo_a_newer_state(kyc, servicer, standin, mail_dir, unique):
    _user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    session_id = opened.case.verification_session_id
    standin.drive(session_id, "verify")  # what Stripe says when identity checks a `verified` event
    now = datetime.now(UTC)

    def event(event_id: str, kind: str, at: datetime, code: str = "") -> pb.ApplyKycVerificationEventRequest:
        return hand_made(session_id, event_id, kind, at, code)

    verified = await servicer.ApplyKycVerificationEvent(event(f"evt_v{unique}", "verified", now), None)
    older = event(f"evt_r{unique}", "requires_input", now - timedelta(seconds=30), "document_expired")
    stale = await servicer.ApplyKycVerificationEvent(older, None)

    assert verified.kyc_case.status == stale.kyc_case.status == pb.KYC_STATUS_APPROVED
    assert not stale.duplicate


async def test_a_verified_event_stripe_does_not_confirm_approves_nothing(kyc, servicer, standin, mail_dir, unique):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    session_id = opened.case.verification_session_id  # still requires_input at Stripe

    forged = hand_made(session_id, f"evt_forged{unique}", "verified", datetime.now(UTC))
    reply = await servicer.ApplyKycVerificationEvent(forged, None)

    assert reply.kyc_case.status == pb.KYC_STATUS_PENDING
    assert (await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))).status is KycStatus.PENDING


async def test_an_event_for_a_session_we_never_opened_is_not_found_and_not_stored(kyc, servicer):
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    request = pb.ApplyKycVerificationEventRequest(
        stripe_event_id=f"evt_foreign_{uuid.uuid4().hex}",
        event_type="identity.verification_session.verified",
        verification_session_id=f"vs_foreign_{uuid.uuid4().hex}",
        event_created_at=stamp,
    )
    with pytest.raises(NotFound):
        await servicer.ApplyKycVerificationEvent(request, None)
    with pytest.raises(NotFound):  # not stored: a second delivery is not mistaken for a duplicate
        await servicer.ApplyKycVerificationEvent(request, None)


async def test_a_pending_case_reuses_its_session_and_the_stripe_key_is_ours(kyc, standin, mail_dir, unique):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)

    again = await kyc.use_cases.create_kyc_session(CreateKycSession(actor=actor_for(user)))

    assert again.case.verification_session_id == opened.case.verification_session_id
    listed = standin.control.get(
        "/v1/identity/verification_sessions",
        params={"client_reference_id": str(user.user_id)},
        headers={"Authorization": f"Bearer {STRIPE_KEY}"},
    ).json()
    assert len(listed["data"]) == 1  # no second session at Stripe
    # A retry after a lost answer sends the same key, and Stripe answers with the same session.
    at_stripe = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": standin.url}).v1.identity
    replay = at_stripe.verification_sessions.create(
        params={
            "type": "document",
            "client_reference_id": str(user.user_id),
            "metadata": {"user_id": str(user.user_id)},
            "options": {"document": {"require_matching_selfie": "true"}},
            "return_url": "https://app.example.com/kyc/done",
        },
        options={"idempotency_key": idempotency_key(user.user_id, 1)},
    )
    assert replay.id == opened.case.verification_session_id


async def test_reviewer_decisions_follow_the_table_with_notes(kyc, servicer, standin, receiver, mail_dir, unique):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    session_id = opened.case.verification_session_id
    standin.drive(session_id, "requires_input", code="document_unverified_other")
    await deliver_all(servicer, receiver.wait_for(lambda events: len(events) == 3, session_id))
    support = reviewer()

    kept = await kyc.use_cases.review_kyc(
        ReviewKyc(support, str(user.user_id), ReviewDecision.NEEDS_REVIEW, "please upload a proof of address")
    )
    approved = await kyc.use_cases.review_kyc(
        ReviewKyc(support, str(user.user_id), ReviewDecision.APPROVE, "address matches the document")
    )

    assert kept.status is KycStatus.NEEDS_REVIEW
    assert approved.status is KycStatus.APPROVED
    assert [n.text for n in approved.notes] == ["please upload a proof of address", "address matches the document"]
    with pytest.raises(FailedPrecondition) as refused:
        await kyc.use_cases.review_kyc(ReviewKyc(support, str(user.user_id), ReviewDecision.REJECT, "changed my mind"))
    assert refused.value.metadata["current_state"] == "approved"
    case = await kyc.use_cases.get_kyc(GetKyc(actor=support, user_id=str(user.user_id)))
    assert case.status is KycStatus.APPROVED and len(case.notes) == 2  # the refused decision left nothing
    async with kyc.engine.connect() as connection:
        audit = platform_tables("identity")["audit_log"]
        rows = (
            await connection.execute(
                select(audit.c.action, audit.c.actor_id).where(audit.c.subject_id == str(user.user_id))
            )
        ).all()
    assert [r.actor_id for r in rows if r.action == "kyc.reviewed"] == [support.actor_id, support.actor_id]


async def test_illegal_reviews_and_reviewers_are_refused(kyc, mail_dir, unique):
    user = await active_user(kyc, mail_dir, f"kyc-none-{unique}@example.com")

    with pytest.raises(FailedPrecondition) as not_started:
        await kyc.use_cases.review_kyc(ReviewKyc(reviewer(), str(user.user_id), ReviewDecision.APPROVE, "looks ok"))
    assert not_started.value.metadata["current_state"] == "not_started"
    with pytest.raises(PermissionDenied):
        await kyc.use_cases.review_kyc(ReviewKyc(actor_for(user), str(user.user_id), ReviewDecision.APPROVE, "me"))
    with pytest.raises(InvalidArgument):
        await kyc.use_cases.review_kyc(ReviewKyc(reviewer(), str(user.user_id), ReviewDecision.APPROVE, "  "))
    assert (await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))).status is KycStatus.NOT_STARTED


async def test_a_requested_document_is_stored_encrypted_and_reads_back_for_staff(
    kyc, servicer, standin, receiver, mail_dir, unique, objects_dir
):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    with pytest.raises(FailedPrecondition):  # nobody asked for a document yet
        await kyc.use_cases.upload_kyc_document(
            UploadKycDocument(actor_for(user), "id_document", "application/pdf", PASSPORT)
        )
    session_id = opened.case.verification_session_id
    standin.drive(session_id, "requires_input", code="document_expired")
    await deliver_all(servicer, receiver.wait_for(lambda events: len(events) == 3, session_id))

    document = await kyc.use_cases.upload_kyc_document(
        UploadKycDocument(actor_for(user), "id_document", "application/pdf", PASSPORT)
    )

    at_rest = (objects_dir / document.object_key).read_bytes()
    assert PASSPORT not in at_rest and b"X1234567" not in at_rest
    assert at_rest.startswith(b"v1.")  # an envelope: wrapped data key, nonce, AES-GCM ciphertext
    read_back, plaintext = await kyc.use_cases.read_kyc_document(ReadKycDocument(reviewer(), str(document.document_id)))
    assert plaintext == PASSPORT and read_back.size_bytes == len(PASSPORT)
    with pytest.raises(PermissionDenied):
        await kyc.use_cases.read_kyc_document(ReadKycDocument(actor_for(user), str(document.document_id)))


async def test_a_reviewer_decides_over_the_servicer_mapping(kyc, servicer, standin, receiver, mail_dir, unique):
    """The wire shapes staff use through the gateway: ReviewKyc's decision enum and notes, GetKyc for a user."""
    from libs.platform.auth import Claims
    from libs.platform.grpc_errors import Caller, caller_var

    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    session_id = opened.case.verification_session_id
    standin.drive(session_id, "requires_input", code="selfie_face_mismatch")
    await deliver_all(servicer, receiver.wait_for(lambda events: len(events) == 3, session_id))
    staff_id = str(uuid.uuid4())
    claims = Claims(staff_id, "admin", str(uuid.uuid4()), 0, 0, ("pwd", "otp"), 0, "token")
    token = caller_var.set(Caller(actor_id=staff_id, role="admin", ip="198.18.9.9", claims=claims))
    try:
        seen = await servicer.GetKyc(pb.GetKycRequest(user_id=str(user.user_id)), None)
        decided = await servicer.ReviewKyc(
            pb.ReviewKycRequest(
                user_id=str(user.user_id), decision=pb.KYC_DECISION_REJECT, notes="selfie is of another person"
            ),
            None,
        )
    finally:
        caller_var.reset(token)

    assert seen.kyc_case.status == pb.KYC_STATUS_NEEDS_REVIEW and seen.kyc_case.verification_session_id == session_id
    assert decided.kyc_case.status == pb.KYC_STATUS_REJECTED
    assert list(decided.kyc_case.notes) == ["selfie is of another person"]
    with pytest.raises(FailedPrecondition):  # rejected is final: the user cannot open another session
        await kyc.use_cases.create_kyc_session(CreateKycSession(actor=actor_for(user)))


async def test_a_case_in_review_reopens_with_a_new_session_and_the_old_ones_events_are_ignored(
    kyc, servicer, standin, receiver, mail_dir, unique
):
    user, opened = await trader_with_session(kyc, mail_dir, unique, standin)
    first = opened.case.verification_session_id
    standin.drive(first, "requires_input", code="document_expired")
    await deliver_all(servicer, receiver.wait_for(lambda events: len(events) == 3, first))

    reopened = await kyc.use_cases.create_kyc_session(CreateKycSession(actor=actor_for(user)))
    second = reopened.case.verification_session_id
    late = hand_made(first, f"evt_late{unique}", "verified", datetime.now(UTC) + timedelta(seconds=5))
    with pytest.raises(NotFound):  # the case knows only its current session; the gateway acknowledges this
        await servicer.ApplyKycVerificationEvent(late, None)

    assert second != first and reopened.case.status is KycStatus.PENDING and reopened.case.attempts == 2
    assert (await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))).status is KycStatus.PENDING
    standin.drive(second, "verify")
    await deliver_all(servicer, receiver.wait_for(lambda events: len(events) == 3, second))
    assert (await kyc.use_cases.get_kyc(GetKyc(actor=actor_for(user)))).status is KycStatus.APPROVED
