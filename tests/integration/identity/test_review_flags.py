"""Chargeback -> review flag, through identity's real gRPC inbox: ChargebackOpened / ChargebackClosed sent the way
the outbox relay sends them (GrpcEventSender -> EventsService/DeliverEvent), de-duplicated by the platform's inbox,
a flag (not a suspension) with the dispute as evidence, audited; staff see it (ListUsers filter, GetUser) and clear
it with a reason over the same server. Real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import grpc
import pytest
from sqlalchemy import text

from devstack.stack import free_port
from dynasty.identity.v1 import identity_service_pb2 as pb
from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc
from libs.domain.clock import SystemClock
from libs.platform.db import create_engine
from libs.platform.event_sender import GrpcEventSender
from libs.platform.grpc_errors import error_info
from libs.platform.outbox import OutboxRecord
from libs.platform.service_main import build_server
from services.identity.domain.user import Role
from services.identity.main import wire
from tests.integration.identity.conftest import active_user, identity_test_settings


@pytest.fixture
async def served(database_url, redis_url, mail_dir):
    settings = identity_test_settings(database_url, redis_url, mail_dir, grpc_port=free_port())
    server, _relay, sender, engine = await build_server("identity", settings, wire)
    await server.start()
    target = f"127.0.0.1:{server.port}"
    channel = grpc.aio.insecure_channel(target)
    relay_sender = GrpcEventSender({"identity": target})
    yield pb_grpc.IdentityServiceStub(channel), relay_sender
    await relay_sender.close()
    await channel.close()
    await server.stop()
    await sender.close()
    await engine.dispose()


def record(event_type: str, payload: dict, event_id: str | None = None) -> OutboxRecord:
    """An outbox row as challenges' relay reads it (the payload is what its ChargebackOpened serialises to)."""
    return OutboxRecord(
        id=0,
        event_id=event_id or str(uuid.uuid4()),
        destination="identity",
        event_type=event_type,
        source="challenges",
        aggregate_id=payload.get("order_id", str(uuid.uuid4())),
        aggregate_version=1,
        occurred_at=datetime.now(UTC),
        payload=payload,
    )


def opened(user_id: UUID, dispute_id: str, order_id: str | None = None) -> dict:
    return {
        "order_id": order_id or str(uuid.uuid4()),
        "user_id": str(user_id),
        "account_id": str(uuid.uuid4()),
        "dispute_id": dispute_id,
        "payment_intent_id": "pi_" + uuid.uuid4().hex[:24],
        "amount": {"amount": "549.00", "currency": "USD"},
        "reason": "fraudulent",
    }


async def staff_token(identity, role: Role = Role.SUPPORT) -> tuple[str, tuple]:
    staff_id = uuid.uuid4()
    now = SystemClock().now()
    issued = await identity.issuer.issue(
        user_id=staff_id, role=role, session_id=uuid.uuid4(), amr=("pwd", "otp"), mfa_at=now, now=now
    )
    return str(staff_id), (("authorization", f"Bearer {issued.token}"),)


async def audit_actions(database_url: str, user_id: UUID) -> list[tuple[str, str]]:
    """The review-flag records of one user's audit trail, in order."""
    engine = create_engine(database_url, "identity", pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT action, actor_id FROM identity.audit_log "
                    "WHERE subject_id = :s AND action LIKE 'user.%review%' ORDER BY id"
                ),
                {"s": str(user_id)},
            )
            return [(r.action, r.actor_id) for r in rows]
    finally:
        await engine.dispose()


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


async def test_a_chargeback_flags_the_user_once_with_evidence_and_staff_see_it(
    served, identity, mail_dir, database_url, unique
):
    stub, relay = served
    user = await active_user(identity, mail_dir, f"chargeback-{unique}@example.com")
    other = await active_user(identity, mail_dir, f"clean-{unique}@example.com")
    _, support = await staff_token(identity)
    payload = opened(user.user_id, f"dp_{unique}")
    first = record("ChargebackOpened", payload)

    await relay(first)
    await relay(first)  # the relay died before marking it delivered: sent again, a no-op
    await relay(record("ChargebackOpened", payload))  # the same dispute under a new event id: still one flag

    detail = await stub.GetUser(pb.GetUserRequest(user_id=str(user.user_id)), metadata=support, timeout=10)
    assert detail.user.flagged_for_review
    assert detail.user.status == pb.USER_STATUS_ACTIVE  # flagged, not suspended: support decides
    (flag,) = detail.review_flags
    assert flag.status == pb.REVIEW_FLAG_STATUS_OPEN
    assert (flag.reason, flag.source, flag.source_ref) == ("chargeback", "challenges", f"dp_{unique}")
    assert flag.evidence["amount"] == "549.00" and flag.evidence["currency"] == "USD"
    assert flag.evidence["dispute_reason"] == "fraudulent"
    assert flag.evidence["order_id"] == payload["order_id"]
    assert flag.evidence["account_id"] == payload["account_id"]
    assert flag.evidence["payment_intent_id"] == payload["payment_intent_id"]
    assert await audit_actions(database_url, user.user_id) == [("user.flagged_for_review", "challenges")]

    flagged = await stub.ListUsers(
        pb.ListUsersRequest(email_contains=unique, flagged_for_review=True), metadata=support, timeout=10
    )
    assert [u.user_id for u in flagged.users] == [str(user.user_id)]
    everyone = await stub.ListUsers(pb.ListUsersRequest(email_contains=unique), metadata=support, timeout=10)
    assert {u.user_id: u.flagged_for_review for u in everyone.users} == {
        str(user.user_id): True,
        str(other.user_id): False,
    }


async def test_a_won_dispute_adds_its_outcome_but_leaves_the_flag_for_staff_who_clear_it_with_a_reason(
    served, identity, mail_dir, database_url, unique
):
    stub, relay = served
    user = await active_user(identity, mail_dir, f"won-{unique}@example.com")
    support_id, support = await staff_token(identity)
    payload = opened(user.user_id, f"dp_{unique}")
    await relay(record("ChargebackOpened", payload))
    closed = {k: payload[k] for k in ("order_id", "user_id", "account_id", "dispute_id")} | {"status": "won"}
    await relay(record("ChargebackClosed", closed))

    (flag,) = (
        await stub.GetUser(pb.GetUserRequest(user_id=str(user.user_id)), metadata=support, timeout=10)
    ).review_flags
    assert flag.status == pb.REVIEW_FLAG_STATUS_OPEN
    assert flag.evidence["dispute_status"] == "won" and flag.evidence["dispute_closed_at"]

    no_reason = await rpc_error(
        stub.ClearReviewFlag(
            pb.ClearReviewFlagRequest(user_id=str(user.user_id), flag_id=flag.flag_id, reason="  "),
            metadata=support,
            timeout=10,
        )
    )
    assert no_reason.code() is grpc.StatusCode.INVALID_ARGUMENT
    cleared = await stub.ClearReviewFlag(
        pb.ClearReviewFlagRequest(
            user_id=str(user.user_id), flag_id=flag.flag_id, reason="bank sided with us; customer confirmed"
        ),
        metadata=support,
        timeout=10,
    )
    assert cleared.flag.status == pb.REVIEW_FLAG_STATUS_CLEARED
    assert cleared.flag.cleared_by == support_id
    assert cleared.flag.clear_reason == "bank sided with us; customer confirmed"
    again = await rpc_error(
        stub.ClearReviewFlag(
            pb.ClearReviewFlagRequest(user_id=str(user.user_id), flag_id=flag.flag_id, reason="twice"),
            metadata=support,
            timeout=10,
        )
    )
    assert again.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(again).reason == "REVIEW_FLAG_ALREADY_CLEARED"

    detail = await stub.GetUser(pb.GetUserRequest(user_id=str(user.user_id)), metadata=support, timeout=10)
    assert not detail.user.flagged_for_review
    assert [f.status for f in detail.review_flags] == [pb.REVIEW_FLAG_STATUS_CLEARED]  # kept as the record
    assert await audit_actions(database_url, user.user_id) == [
        ("user.flagged_for_review", "challenges"),
        ("user.review_flag_evidence_added", "challenges"),
        ("user.review_flag_cleared", support_id),
    ]


async def test_clearing_is_refused_to_traders_for_another_users_flag_and_for_bad_ids(
    served, identity, mail_dir, database_url, unique
):
    stub, relay = served
    user = await active_user(identity, mail_dir, f"refused-{unique}@example.com")
    other = await active_user(identity, mail_dir, f"bystander-{unique}@example.com")
    _, support = await staff_token(identity)
    await relay(record("ChargebackOpened", opened(user.user_id, f"dp_{unique}")))
    (flag,) = (
        await stub.GetUser(pb.GetUserRequest(user_id=str(user.user_id)), metadata=support, timeout=10)
    ).review_flags
    trader_token = await identity.issuer.issue(
        user_id=other.user_id,
        role=Role.TRADER,
        session_id=uuid.uuid4(),
        amr=("pwd",),
        mfa_at=None,
        now=SystemClock().now(),
    )
    as_trader = await rpc_error(
        stub.ClearReviewFlag(
            pb.ClearReviewFlagRequest(user_id=str(user.user_id), flag_id=flag.flag_id, reason="mine now"),
            metadata=(("authorization", f"Bearer {trader_token.token}"),),
            timeout=10,
        )
    )
    assert as_trader.code() is grpc.StatusCode.PERMISSION_DENIED
    wrong_user = await rpc_error(
        stub.ClearReviewFlag(
            pb.ClearReviewFlagRequest(user_id=str(other.user_id), flag_id=flag.flag_id, reason="wrong url"),
            metadata=support,
            timeout=10,
        )
    )
    assert wrong_user.code() is grpc.StatusCode.NOT_FOUND
    bad_id = await rpc_error(
        stub.ClearReviewFlag(
            pb.ClearReviewFlagRequest(user_id=str(user.user_id), flag_id="not-a-uuid", reason="x"),
            metadata=support,
            timeout=10,
        )
    )
    assert bad_id.code() is grpc.StatusCode.INVALID_ARGUMENT
    # Nothing changed: the flag is still open and only its raising is in the audit log.
    detail = await stub.GetUser(pb.GetUserRequest(user_id=str(user.user_id)), metadata=support, timeout=10)
    assert detail.user.flagged_for_review
    assert await audit_actions(database_url, user.user_id) == [("user.flagged_for_review", "challenges")]


async def test_an_event_without_user_or_dispute_is_refused_and_changes_nothing(served, identity, mail_dir, unique):
    stub, relay = served
    user = await active_user(identity, mail_dir, f"malformed-{unique}@example.com")
    _, support = await staff_token(identity)
    broken = opened(user.user_id, f"dp_{unique}")
    del broken["dispute_id"]
    refused = await rpc_error(relay(record("ChargebackOpened", broken)))
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT  # the relay keeps it and says why (last_error)
    detail = await stub.GetUser(pb.GetUserRequest(user_id=str(user.user_id)), metadata=support, timeout=10)
    assert not detail.user.flagged_for_review and not detail.review_flags
    # An unknown user is acknowledged (retrying could never help) and flags nobody.
    await relay(record("ChargebackOpened", opened(uuid.uuid4(), f"dp_ghost_{unique}")))
