"""Funding for real (ADR 0046): a passed account becomes funded only with the trader's KYC approved in identity and the
current funded-trader agreement accepted for it, through the gateway, exactly once under a replay.

Everything is the real code: the gateway's routes, challenges' use cases on real PostgreSQL, identity's gRPC server
(in process, its own use cases and KYC repository) answering GetKyc to challenges' gRPC client, the YourPropFirm
simulator taking the platform reset, Redis carrying the trader's notice. Tokens are the test's ES256 keys, which
challenges, the gateway and identity all verify (identity's key source is swapped for the test's, nothing else).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from devstack.stack import free_port
from libs.domain.clock import SystemClock
from libs.platform.db import create_engine, session_factory
from libs.platform.service_main import build_server
from services.challenges.adapters.notices import user_channel
from services.identity.domain.kyc import KycCase, ReviewDecision
from services.identity.main import build_identity
from services.identity.main import wire as identity_wire
from tests.integration.challenges.test_account_lifecycle import audit_actions, deliver, session_id
from tests.integration.challenges.test_retries_scaling import query
from tests.integration.identity.conftest import active_user, identity_test_settings

AGREEMENT_VERSION = "2026-11"


@pytest.fixture
def identity_port() -> int:
    return free_port()


@pytest.fixture
def purchase_overrides(identity_port) -> dict:
    # Challenges asks identity at this address (DYNASTY_IDENTITY_TARGET in the devstack); identity starts below.
    return {"identity_target": f"127.0.0.1:{identity_port}"}


@dataclass
class Funding:
    purchase: object
    identity: object  # identity's components: its own use cases and unit of work
    mail_dir: object
    redis: Redis
    identity_server: object = None  # identity's gRPC server, for the test that takes it away

    async def trader(self) -> tuple[str, dict[str, str]]:
        """A trader identity knows (GetKyc loads the user), with a token every service verifies."""
        user = await active_user(self.identity, self.mail_dir, f"funded-{uuid.uuid4().hex[:12]}@traders.test")
        user_id = str(user.user_id)
        return user_id, {"authorization": f"Bearer {self.purchase.keys.mint(user_id, 'trader')}"}

    async def approve_kyc(self, user_id: str) -> None:
        """Identity's own case and repository: a verification session opened, then approved by a reviewer."""
        now = SystemClock().now()
        async with self.identity.uow() as uow:
            case = KycCase.new(uuid.UUID(user_id), now)
            case.open_session(f"vs_fund_{uuid.uuid4().hex[:12]}", 1, now)
            case.review(ReviewDecision.APPROVE, str(uuid.uuid4()), "documents checked", now)
            await uow.kyc.add(case)
            await uow.commit()

    async def passed_account(self, trader: dict) -> dict:
        purchase = self.purchase
        order = (await purchase.order(trader, program_id="eval-50k")).json()
        await purchase.pay(session_id(order))
        (account,) = await purchase.wait_for_account(trader)
        at = datetime.now(UTC).isoformat()
        for phase in [p["kind"] for p in account["phases"] if p["kind"] != "funded"]:
            await deliver(purchase, "AccountPhasePassed", {"account_id": account["id"], "phase": phase, "at": at})
        passed = await self.account(trader, account["id"])
        assert passed["status"] == "passed", passed
        return passed

    async def account(self, headers: dict, account_id: str) -> dict:
        return (await self.purchase.gateway.get(f"/v1/accounts/{account_id}", headers=headers)).json()

    async def accept(self, trader: dict, account_id: str, version: str = AGREEMENT_VERSION, **extra):
        return await self.purchase.gateway.post(
            f"/v1/accounts/{account_id}/funded-agreement",
            json={"agreement_version": version, **extra},
            headers={**trader, "x-forwarded-for": "203.0.113.7"},
        )

    async def fund(self, trader: dict, account_id: str, key: str | None = None):
        headers = {**trader, **({"Idempotency-Key": key} if key else {})}
        return await self.purchase.gateway.post(f"/v1/accounts/{account_id}/fund", headers=headers)


@pytest.fixture
async def funding(purchase, database_url, redis_url, tmp_path, identity_port):
    mail_dir = tmp_path / "identity-mail"
    settings = identity_test_settings(database_url, redis_url, mail_dir, grpc_port=identity_port)

    def wire(runtime):
        return dataclasses.replace(identity_wire(runtime), jwks_source=purchase.keys.jwks_source)

    server, _relay, sender, engine = await build_server("identity", settings, wire)
    await server.start()
    redis = Redis.from_url(redis_url, decode_responses=True)
    components_engine = create_engine(database_url, "identity", pool_size=2)
    components = build_identity(settings, session_factory(components_engine), SystemClock(), redis)
    yield Funding(purchase=purchase, identity=components, mail_dir=mail_dir, redis=redis, identity_server=server)
    await redis.aclose()
    await components_engine.dispose()
    await server.stop()
    await sender.close()
    await engine.dispose()


async def test_the_agreement_in_force_is_published_with_the_sha256_of_its_text(funding):
    _, trader = await funding.trader()
    reply = await funding.purchase.gateway.get("/v1/funded-agreement", headers=trader)
    assert reply.status_code == 200, reply.text
    agreement = reply.json()
    assert agreement["version"] == AGREEMENT_VERSION
    assert agreement["sha256"] == hashlib.sha256(agreement["text"].encode("utf-8")).hexdigest()
    assert "funded-trader agreement" in agreement["text"]


async def test_a_passed_account_is_funded_once_with_kyc_approved_and_the_agreement_accepted(funding, database_url):
    purchase = funding.purchase
    user_id, trader = await funding.trader()
    account = await funding.passed_account(trader)
    account_id = account["id"]

    # Neither yet: KYC is what identity is asked first, and the refusal names it.
    refused = await funding.fund(trader, account_id)
    assert refused.status_code == 409 and refused.json()["reason"] == "KYC_NOT_APPROVED", refused.text

    # A stale version is refused, naming the current one; the current one is accepted once.
    stale = await funding.accept(trader, account_id, version="2025-01")
    assert stale.status_code == 409 and stale.json()["reason"] == "AGREEMENT_VERSION_NOT_CURRENT"
    assert stale.json()["current_version"] == AGREEMENT_VERSION
    sha = (await purchase.gateway.get("/v1/funded-agreement", headers=trader)).json()["sha256"]
    wrong_text = await funding.accept(trader, account_id, agreement_sha256="0" * 64)
    assert wrong_text.status_code == 409 and wrong_text.json()["reason"] == "AGREEMENT_VERSION_NOT_CURRENT"
    first = await funding.accept(trader, account_id, agreement_sha256=sha)
    again = await funding.accept(trader, account_id)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json()["already_accepted"] is False and again.json()["already_accepted"] is True
    assert first.json()["accepted_at"] == again.json()["accepted_at"]
    assert first.json()["agreement_sha256"] == sha and first.json()["user_id"] == user_id
    (stored,) = await query(
        database_url,
        "SELECT user_id, ip, agreement_version FROM challenges.funded_agreements WHERE account_id = :a",
        a=account_id,
    )
    assert (stored.user_id, stored.agreement_version) == (user_id, AGREEMENT_VERSION)
    assert stored.ip  # the client address the gateway saw (the socket peer: no proxy is trusted in the tests)

    # The agreement alone is not enough; nothing changed.
    still = await funding.fund(trader, account_id)
    assert still.status_code == 409 and still.json()["reason"] == "KYC_NOT_APPROVED"
    assert (await funding.account(trader, account_id))["status"] == "passed"

    await funding.approve_kyc(user_id)
    pubsub = funding.redis.pubsub()
    await pubsub.subscribe(user_channel(user_id))
    key = f"fund-{account_id}"
    replies = await asyncio.gather(
        funding.fund(trader, account_id, key), funding.fund(trader, account_id, key), funding.fund(trader, account_id)
    )
    assert [r.status_code for r in replies] == [200, 200, 200], [r.text for r in replies]
    bodies = [r.json() for r in replies]
    # One of them funded it; the two under one key answer alike (the replay repeats the first answer).
    assert False in [b["already_funded"] for b in bodies]
    assert bodies[0]["already_funded"] == bodies[1]["already_funded"]
    assert len({b["funding_id"] for b in bodies}) == 1
    funded = await funding.account(trader, account_id)
    assert funded["status"] == "funded"
    assert [(a["phase"], a["outcome"]) for a in funded["attempts"]][-1] == ("funded", None)
    assert sum(1 for a in funded["attempts"] if a["phase"] == "funded") == 1
    actions = [a for a, _ in await audit_actions(database_url, account_id)]
    assert actions.count("account.funded_agreement_accepted") == 1 and actions.count("account.funded") == 1

    # The rules service is told to judge the funded stage by its rule set, once.
    activated = await query(
        database_url,
        "SELECT payload FROM challenges.outbox WHERE event_type = 'AccountActivated' AND aggregate_id = :a",
        a=account_id,
    )
    funded_events = [row.payload for row in activated if row.payload["phase"] == "funded"]
    assert len(funded_events) == 1
    funded_rules = next(p["rule_set"] for p in funded["phases"] if p["kind"] == "funded")
    assert funded_events[0]["rule_set"] == funded_rules

    # The platform account is reset to the funded balance once, by the queued job.
    for _ in range(100):
        (on_platform,) = await purchase.platform.accounts_of(account_id)
        if on_platform["attempt"] == 2:
            break
        await asyncio.sleep(0.05)
    assert on_platform["attempt"] == 2 and on_platform["balance"] == on_platform["startingBalance"]
    (queued,) = await query(
        database_url, "SELECT count(*) AS n FROM challenges.platform_resets WHERE account_id = :a", a=account_id
    )
    assert queued.n == 1

    # The trader heard about it.
    notices = []
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            notices.append(json.loads(message["data"]))
        if any(n["type"] == "account.funded" for n in notices):
            break
    await pubsub.aclose()
    assert any(n["type"] == "account.funded" and n["account_id"] == account_id for n in notices), notices

    # Later: funded already, nothing more happens.
    later = await funding.fund(trader, account_id, "another-key")
    assert later.status_code == 200 and later.json()["already_funded"] is True
    assert [a for a, _ in await audit_actions(database_url, account_id)].count("account.funded") == 1


async def test_funding_is_refused_naming_what_is_missing_and_changes_nothing(funding, database_url):
    user_id, trader = await funding.trader()
    await funding.approve_kyc(user_id)
    account = await funding.passed_account(trader)

    no_agreement = await funding.fund(trader, account["id"])
    assert no_agreement.status_code == 409 and no_agreement.json()["reason"] == "AGREEMENT_NOT_ACCEPTED"
    assert (await funding.account(trader, account["id"]))["status"] == "passed"
    assert "account.funded" not in [a for a, _ in await audit_actions(database_url, account["id"])]

    # Another trader's account does not exist for them, to accept or to fund.
    _, stranger = await funding.trader()
    assert (await funding.accept(stranger, account["id"])).status_code == 404
    assert (await funding.fund(stranger, account["id"])).status_code == 404

    # An account still in its evaluation is refused with its state named, for the agreement and for funding.
    other_id, other = await funding.trader()
    await funding.approve_kyc(other_id)
    order = (await funding.purchase.order(other, program_id="eval-50k")).json()
    await funding.purchase.pay(session_id(order))
    (running,) = await funding.purchase.wait_for_account(other)
    early = await funding.accept(other, running["id"])
    assert early.status_code == 409 and early.json()["current_state"] == "phase_1", early.text
    not_passed = await funding.fund(other, running["id"])
    assert not_passed.status_code == 409 and not_passed.json()["current_state"] == "phase_1"
    assert not_passed.json()["requested_state"] == "funded"
    assert (await funding.account(other, running["id"]))["status"] == "phase_1"

    malformed = await funding.fund(trader, "not-a-uuid")
    assert malformed.status_code == 400

    # A trader identity does not know (NOT_FOUND from GetKyc) is not approved: a definite answer, not an outage.
    _, unknown = funding.purchase.trader()
    unknown_account = await funding.passed_account(unknown)
    assert (await funding.accept(unknown, unknown_account["id"])).status_code == 201
    not_known = await funding.fund(unknown, unknown_account["id"])
    assert not_known.status_code == 409 and not_known.json()["reason"] == "KYC_NOT_APPROVED", not_known.text


async def test_an_admin_funds_a_passed_account_with_the_same_checks_audited_under_their_name(funding, database_url):
    purchase = funding.purchase
    user_id, trader = await funding.trader()
    account = await funding.passed_account(trader)
    assert (await funding.accept(trader, account["id"])).status_code == 201
    admin_id = str(uuid.uuid4())
    admin = {"authorization": f"Bearer {purchase.keys.mint(admin_id, 'admin', amr=('pwd', 'otp'))}"}

    def admin_fund(key: str, reason: str | None = "passed both phases; documents checked"):
        body = {} if reason is None else {"reason": reason}
        return purchase.gateway.post(
            f"/v1/admin/accounts/{account['id']}/fund", json=body, headers={**admin, "Idempotency-Key": key}
        )

    assert (await admin_fund("admin-fund-0", reason=None)).status_code == 400  # the reason is required
    # Identity answers the admin (staff may read any user's case): not approved yet, so refused.
    refused = await admin_fund("admin-fund-1")
    assert refused.status_code == 409 and refused.json()["reason"] == "KYC_NOT_APPROVED", refused.text

    await funding.approve_kyc(user_id)
    first, replay = await asyncio.gather(admin_fund("admin-fund-2"), admin_fund("admin-fund-2"))
    assert first.status_code == replay.status_code == 200, (first.text, replay.text)
    assert first.json()["account"]["status"] == "funded"
    assert sorted([first.json()["already_funded"], replay.json()["already_funded"]]) == [False, False]
    audit = await audit_actions(database_url, account["id"])
    assert [actor for action, actor in audit if action == "account.funded"] == [admin_id]
    (entry,) = await query(
        database_url,
        "SELECT after FROM challenges.audit_log WHERE subject_id = :s AND action = 'account.funded'",
        s=account["id"],
    )
    assert entry.after["reason"] == "passed both phases; documents checked"
    assert entry.after["agreement_version"] == AGREEMENT_VERSION

    # A support user (even with TOTP) may not fund.
    support = {"authorization": f"Bearer {purchase.keys.mint(str(uuid.uuid4()), 'support', amr=('pwd', 'otp'))}"}
    denied = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/fund",
        json={"reason": "x"},
        headers={**support, "Idempotency-Key": "support-fund"},
    )
    assert denied.status_code == 403


async def test_a_program_without_a_funded_stage_is_refused_naming_it(funding, database_url):
    from dynasty.challenges.v1 import challenges_service_pb2 as pb
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
    from dynasty.common.v1 import money_pb2
    from libs.platform.grpc_client import insecure_channel
    from tests.unit.challenges.factories import rule_set

    purchase = funding.purchase
    program_id = f"no-funded-{uuid.uuid4().hex[:8]}-50k"  # the simulator sizes a program by its id's suffix
    admin = (("authorization", purchase.staff()["authorization"]),)
    async with insecure_channel(purchase.channel_target) as channel:
        await pb_grpc.ChallengesServiceStub(channel).CreateProgramVersion(
            pb.CreateProgramVersionRequest(
                request_id=f"{program_id}-v1",
                program_id=program_id,
                name="Evaluation only",
                account_size=money_pb2.Money(units=50000, currency_code="USD"),
                price=money_pb2.Money(units=99, currency_code="USD"),
                phases=[pb.Phase(kind=pb.PHASE_KIND_PHASE_1, rule_set_json=json.dumps(rule_set()))],
            ),
            metadata=admin,
            timeout=10,
        )
    user_id, trader = await funding.trader()
    await funding.approve_kyc(user_id)
    order = (await purchase.order(trader, program_id=program_id)).json()
    await purchase.pay(session_id(order))
    (account,) = await purchase.wait_for_account(trader)
    at = datetime.now(UTC).isoformat()
    await deliver(purchase, "AccountPhasePassed", {"account_id": account["id"], "phase": "phase_1", "at": at})
    assert (await funding.account(trader, account["id"]))["status"] == "passed"
    assert (await funding.accept(trader, account["id"])).status_code == 201

    refused = await funding.fund(trader, account["id"])
    assert refused.status_code == 409 and refused.json()["reason"] == "NO_FUNDED_STAGE", refused.text
    assert (await funding.account(trader, account["id"]))["status"] == "passed"
    assert "account.funded" not in [a for a, _ in await audit_actions(database_url, account["id"])]


async def test_funding_while_identity_cannot_answer_is_refused_for_now_and_changes_nothing(funding, database_url):
    user_id, trader = await funding.trader()
    await funding.approve_kyc(user_id)
    account = await funding.passed_account(trader)
    assert (await funding.accept(trader, account["id"])).status_code == 201
    await funding.identity_server.stop()

    refused = await funding.fund(trader, account["id"], f"down-{account['id']}")
    assert refused.status_code == 409 and refused.json()["reason"] == "KYC_CHECK_UNAVAILABLE", refused.text
    assert (await funding.account(trader, account["id"]))["status"] == "passed"
    assert "account.funded" not in [a for a, _ in await audit_actions(database_url, account["id"])]
