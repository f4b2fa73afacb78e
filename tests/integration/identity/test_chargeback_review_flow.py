"""The contract between challenges and identity for chargebacks, with both sides' real code: challenges' order
records ChargebackOpened, its unit of work writes it to the outbox, the platform's relay delivers it over gRPC to
identity's inbox, and identity flags the user with the dispute as evidence."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from devstack.stack import free_port
from dynasty.identity.v1 import identity_service_pb2 as pb
from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc
from libs.domain.clock import SystemClock
from libs.domain.money import Money
from libs.platform import outbox
from libs.platform.db import create_engine, session_factory
from libs.platform.event_sender import GrpcEventSender
from libs.platform.outbox import OutboxRecord, OutboxRelay
from libs.platform.service_main import build_server
from services.challenges.domain.order import ChargebackOpened
from services.challenges.main import EVENT_ROUTES
from services.identity.domain.user import Role
from services.identity.main import wire
from tests.integration.identity.conftest import active_user, identity_test_settings


@pytest.fixture
async def identity_target(database_url, redis_url, mail_dir):
    settings = identity_test_settings(database_url, redis_url, mail_dir, grpc_port=free_port())
    server, _relay, sender, engine = await build_server("identity", settings, wire)
    await server.start()
    yield f"127.0.0.1:{server.port}"
    await server.stop()
    await sender.close()
    await engine.dispose()


async def test_a_chargeback_in_challenges_flags_the_user_in_identity(
    database_url,
    identity_target,
    identity,
    mail_dir,
    unique,
):
    user = await active_user(identity, mail_dir, f"flow-{unique}@example.com")
    now = SystemClock().now()
    event = ChargebackOpened(
        occurred_at=now,
        order_id=uuid.uuid4(),
        user_id=str(user.user_id),
        account_id=uuid.uuid4(),
        dispute_id=f"dp_{unique}",
        payment_intent_id=f"pi_{unique}",
        amount=Money.of("549.00"),
        reason="fraudulent",
    )
    assert EVENT_ROUTES["ChargebackOpened"] == ("identity",)
    engine = create_engine(database_url, "challenges", pool_size=2)
    try:
        async with session_factory(engine)() as session, session.begin():
            await outbox.enqueue(
                session,
                schema="challenges",
                source="challenges",
                event=event,
                aggregate_id=str(event.order_id),
                aggregate_version=1,
                destinations=EVENT_ROUTES["ChargebackOpened"],
            )
        grpc_sender = GrpcEventSender({"identity": identity_target})
        delivered: list[str] = []

        async def send_only_this_tests_event(record: OutboxRecord) -> None:
            # The test database's outbox also holds other tests' events for services not running here.
            if record.event_id != str(event.event_id):
                raise RuntimeError("not this test's event")
            await grpc_sender(record)
            delivered.append(record.event_id)

        relay = OutboxRelay(engine, schema="challenges", send=send_only_this_tests_event, batch_size=500)
        for _ in range(20):
            await relay.run_once()
            if delivered:
                break
            await asyncio.sleep(0.05)
        await grpc_sender.close()
    finally:
        await engine.dispose()
    assert delivered == [str(event.event_id)]

    now = SystemClock().now()
    issued = await identity.issuer.issue(
        user_id=uuid.uuid4(), role=Role.SUPPORT, session_id=uuid.uuid4(), amr=("pwd", "otp"), mfa_at=now, now=now
    )
    async with grpc.aio.insecure_channel(identity_target) as channel:
        detail = await pb_grpc.IdentityServiceStub(channel).GetUser(
            pb.GetUserRequest(user_id=str(user.user_id)),
            metadata=(("authorization", f"Bearer {issued.token}"),),
            timeout=10,
        )
    assert detail.user.flagged_for_review
    (flag,) = detail.review_flags
    assert flag.source_ref == f"dp_{unique}"
    assert dict(flag.evidence) == {
        "order_id": str(event.order_id),
        "account_id": str(event.account_id),
        "payment_intent_id": f"pi_{unique}",
        "amount": "549.00",
        "currency": "USD",
        "dispute_reason": "fraudulent",
        "dispute_id": f"dp_{unique}",
        "event_id": str(event.event_id),
    }
