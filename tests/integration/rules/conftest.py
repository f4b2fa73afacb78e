"""The rules service in process (real PostgreSQL and Redis, its gRPC server, inbox, enforcement worker) and the
YourPropFirm simulator in a uvicorn thread, which receives our flatten and disable calls over HTTP.

Events reach the service the way the gateway forwards them: signed YourPropFirm envelopes over gRPC. Accounts are
activated the way the challenges relay does it: AccountActivated delivered to the EventsService inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import httpx
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from devstack.ypf_simulator.app import build_app as build_simulator
from libs.platform.grpc_client import insecure_channel
from libs.platform.service_main import build_server
from services.rules.adapters.yourpropfirm.enforcement import YourPropFirmEnforcement
from services.rules.main import Adapters, Background, build_wire
from services.rules.settings import RulesSettings
from tests.integration.standins.conftest import ServerThread, free_port
from tests.unit.gateway.tokens import TestKeys

YPF_KEY = "ypf_rules_client_key"
WEBHOOK_SECRET = "ypf_rules_whsec"
# Quotes are market-wide: one stored quote moves every account holding its symbol at its instant, a late one
# re-evaluates them, and a fill is followed by the stored quotes of its symbol later than it (ADR 0061). That is
# production behaviour, so tests that share one database must each trade in exchange time of their own, LATER than
# every event already stored: a window in the past of another test's quotes would pull those quotes into its fills.
# So every call of session_start() (Rules.start too) hands out the next week, its Tuesday 09:00 in Chicago (inside
# the CME session, far from the day roll); the first week of a test run is the one after the latest stored event
# (_market_windows_after_stored_events below), and a test's events stay inside its week. Random weeks did neither:
# a few hundred tests over 3,000 weeks share one with even odds, and half of them land before another's.
FIRST_TUESDAY = datetime(2031, 1, 7, 15, 0, tzinfo=UTC)
WEEK = timedelta(weeks=1)


class MarketWindows:
    """Hands out consecutive week-long exchange-time windows, starting after a given instant."""

    def __init__(self) -> None:
        self._next = 0

    def start_after(self, at: datetime | None) -> None:
        if at is not None and at >= FIRST_TUESDAY:
            self._next = max(self._next, (at - FIRST_TUESDAY) // WEEK + 1)

    def take(self) -> datetime:
        week, self._next = self._next, self._next + 1
        return FIRST_TUESDAY + week * WEEK


MARKET_WINDOWS = MarketWindows()


@pytest.fixture(scope="session", autouse=True)
def _market_windows_after_stored_events(database_url):
    with psycopg.connect(database_url) as conn:
        latest = conn.execute(
            "SELECT max(exchange_at) FROM rules.trade_events UNION ALL SELECT max(at) FROM rules.news_events"
        ).fetchall()
    MARKET_WINDOWS.start_after(max((row[0] for row in latest if row[0] is not None), default=None))


def session_start() -> datetime:
    """The start of an exchange-time window (a week) no other test trades in, later than every stored event."""
    return MARKET_WINDOWS.take()


def window_end(at: datetime) -> datetime:
    """The end of the window `at` lies in: what is stored from a test's first event up to there is the test's own."""
    return FIRST_TUESDAY + ((at - FIRST_TUESDAY) // WEEK + 1) * WEEK


def rule_set(max_loss: str = "2000.00", **blocks) -> dict:
    return {
        "start_balance": "50000.00",
        "drawdown": {"mode": "static", "max_loss": max_loss, "lock": {"kind": "none"}},
        **blocks,
    }


def sign(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    stamp = int(time.time()) if at is None else at
    return f"t={stamp},v1=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Platform:
    """Builds YourPropFirm envelopes as the simulator sends them, numbering each account's trades."""

    sequences: dict[str, int] = field(default_factory=dict)

    def trade(
        self,
        account: str,
        at: datetime,
        symbol: str,
        side: str,
        size: int,
        price: str,
        *,
        fees: str = "0.00",
        order_id: str | None = None,
        event_id: str | None = None,
    ) -> dict:
        sequence = self.sequences.get(account, 0) + 1
        self.sequences[account] = sequence
        trade_id = f"trd_{uuid.uuid4().hex[:20]}"
        return {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "type": "trade",
            "accountId": account,
            "sequence": sequence,
            "cursor": sequence,
            "occurredAt": iso(at),
            "data": {
                "id": trade_id,
                "accountId": account,
                "contractId": f"CON.F.US.{symbol}.H26",
                "symbol": symbol,
                "creationTimestamp": iso(at),
                "price": price,
                "profitAndLoss": None,
                "fees": fees,
                "side": side,
                "size": size,
                "voided": False,
                "orderId": order_id or f"ord_{uuid.uuid4().hex[:16]}",
                "sequence": sequence,
                "cursor": sequence,
            },
        }

    def quote(self, at: datetime, **prices: str) -> dict:
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "quote",
            "accountId": None,
            "sequence": int(at.timestamp() * 1000),
            "cursor": None,
            "occurredAt": iso(at),
            "data": {
                "quotes": [
                    {"symbol": symbol, "contractId": f"CON.F.US.{symbol}.H26", "lastPrice": price, "timestamp": iso(at)}
                    for symbol, price in prices.items()
                ]
            },
        }

    def account_snapshot(self, account: str, at: datetime) -> dict:
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "account",
            "accountId": account,
            "sequence": self.sequences.get(account, 0),
            "cursor": None,
            "occurredAt": iso(at),
            "data": {"accountId": account, "balance": "50000.00", "canTrade": True},
        }


@dataclass
class Rules:
    channel: grpc.aio.Channel
    keys: TestKeys
    sim: httpx.AsyncClient
    database_url: str
    worker: object
    platform: Platform = field(default_factory=Platform)
    gateway: httpx.AsyncClient | None = None
    gateway_url: str = ""
    redis_url: str = ""
    start: datetime = field(default_factory=session_start)
    created: list[str] = field(default_factory=list)

    def stub(self):
        from dynasty.rules.v1 import rules_service_pb2_grpc

        return rules_service_pb2_grpc.RulesServiceStub(self.channel)

    def auth(self, user_id: str | None = None, role: str = "trader") -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.keys.mint(user_id or str(uuid.uuid4()), role)}"),)

    async def ingest(self, *envelopes: dict | bytes, signature: str | None = None):
        from dynasty.rules.v1 import rules_service_pb2 as pb

        events = []
        for envelope in envelopes:
            body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
            events.append(pb.PlatformEvent(body=body, signature=signature or sign(body)))
        reply = await self.stub().IngestTradeEvents(pb.IngestTradeEventsRequest(events=events), timeout=30)
        return [pb.IngestOutcome.Name(result.outcome) for result in reply.results]

    async def deliver(self, event_type: str, payload: dict, *, aggregate_id: str, version: int = 1) -> bool:
        from dynasty.events.v1 import events_service_pb2 as epb
        from dynasty.events.v1 import events_service_pb2_grpc as epb_grpc

        stamp = Timestamp()
        stamp.FromDatetime(datetime.now(UTC))
        reply = await epb_grpc.EventsServiceStub(self.channel).DeliverEvent(
            epb.DeliverEventRequest(
                event_id=str(uuid.uuid4()),
                event_type=event_type,
                source="challenges",
                aggregate_id=aggregate_id,
                aggregate_version=version,
                occurred_at=stamp,
                payload_json=json.dumps(payload),
            ),
            timeout=10,
        )
        return reply.duplicate

    async def activate(
        self,
        *,
        rules: dict | None = None,
        user_id: str | None = None,
        attempt: int = 1,
        phase: str = "phase_1",
        platform_account: str | None = None,
    ) -> tuple[str, str, str]:
        """A new monitored account: (our account id, its platform account id, its trader). Without a platform account
        id given, one is opened on the simulator."""
        if platform_account is None:
            platform_account = await self.open_platform_account()
        account_id = str(uuid.uuid4())
        self.created.append(account_id)
        user_id = user_id or str(uuid.uuid4())
        await self.deliver(
            "AccountActivated",
            {
                "account_id": account_id,
                "user_id": user_id,
                "program_id": "eval-50k",
                "phase": phase,
                "attempt": attempt,
                "rule_set": rules or rule_set(),
                "platform_account_id": platform_account,
            },
            aggregate_id=account_id,
        )
        return account_id, platform_account, user_id

    async def open_platform_account(self) -> str:
        reply = await self.sim.post(
            "/client/v1/users",
            json={
                "email": f"{uuid.uuid4().hex[:10]}@traders.test",
                "firstname": "Ada",
                "lastname": "Lovelace",
                "programId": "eval-50k",
            },
            headers={"X-Client-Key": YPF_KEY},
        )
        reply.raise_for_status()
        return reply.json()["accounts"][0]["id"]

    async def risk(self, account_id: str, user_id: str):
        from dynasty.rules.v1 import rules_service_pb2 as pb

        reply = await self.stub().GetRiskState(
            pb.GetRiskStateRequest(account_id=account_id), metadata=self.auth(user_id)
        )
        return reply.state

    async def violations(self, account_id: str, user_id: str | None = None, role: str = "trader"):
        from dynasty.rules.v1 import rules_service_pb2 as pb

        reply = await self.stub().ListViolations(
            pb.ListViolationsRequest(account_id=account_id), metadata=self.auth(user_id, role)
        )
        return list(reply.violations)

    async def query(self, sql: str, **params):
        from sqlalchemy import text

        from libs.platform.db import create_engine

        engine = create_engine(self.database_url, "rules", pool_size=1)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return result.mappings().all() if result.returns_rows else []
        finally:
            await engine.dispose()

    async def commands(self, platform_account: str, within: float = 5.0, count: int = 2) -> list[dict]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            received = (await self.sim.get("/_sim/commands", params={"accountId": platform_account})).json()
            commands = received["commands"] if isinstance(received, dict) else received
            if len(commands) >= count or asyncio.get_running_loop().time() > deadline:
                return commands
            await asyncio.sleep(0.05)


def money(value: str) -> Decimal:
    return Decimal(value)


@asynccontextmanager
async def running_rules(database_url, redis_url, tmp_path, *, with_gateway: bool = False):
    """The rules service and the simulator; with_gateway: also the gateway, and the simulator's webhooks go to it."""
    keys = TestKeys()
    ypf_port, gateway_port = free_port(), free_port()
    ypf_url = f"http://127.0.0.1:{ypf_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    simulator = build_simulator(
        tmp_path / "ypf",
        client_key=YPF_KEY,
        webhook_url=f"{gateway_url}/v1/webhooks/yourpropfirm" if with_gateway else None,
        webhook_secret=WEBHOOK_SECRET,
    )
    settings = RulesSettings(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        grpc_port=free_port(),
        yourpropfirm_api_base=ypf_url,
        yourpropfirm_api_key=YPF_KEY,
        yourpropfirm_webhook_secret=WEBHOOK_SECRET,
        rules_enforcement_poll_seconds=0.1,
        rules_reconciliation_poll_seconds=0,  # tests drive the poller and the clock themselves
        rules_clock_tick_seconds=0,
    )
    background = Background()
    platform = YourPropFirmEnforcement(ypf_url, YPF_KEY, backoff_seconds=0.01)

    def wire(runtime):
        return dataclasses.replace(
            build_wire(Adapters(platform=platform), background, settings)(runtime), jwks_source=keys.jwks_source
        )

    server, _relay, sender, engine = await build_server("rules", settings, wire)
    await server.start()
    worker_task = asyncio.create_task(background.worker.run())
    channel = insecure_channel(f"127.0.0.1:{server.port}")
    target = f"127.0.0.1:{server.port}"
    threads = [ServerThread(simulator, ypf_port)]
    if with_gateway:
        from gateway.app import create_app
        from gateway.settings import GatewaySettings

        gateway_settings = GatewaySettings(
            REDIS_URL=redis_url,
            identity_target=target,
            challenges_target=target,
            rules_target=target,
            payouts_target=target,
            yourpropfirm_webhook_secret=WEBHOOK_SECRET,
        )
        app = create_app(gateway_settings, jwks_source=keys.jwks_source)
        threads.append(ServerThread(app, gateway_port))
    fixture = None
    try:
        with contextlib.ExitStack() as stack:
            for thread in threads:
                stack.enter_context(thread)
            async with (
                httpx.AsyncClient(base_url=ypf_url, timeout=20) as sim,
                httpx.AsyncClient(base_url=gateway_url, timeout=20) as gateway,
            ):
                fixture = Rules(
                    channel=channel,
                    keys=keys,
                    sim=sim,
                    database_url=database_url,
                    worker=background.worker,
                    gateway=gateway if with_gateway else None,
                    gateway_url=gateway_url,
                    redis_url=redis_url,
                )
                # The simulator stamps its own fills and quotes with its clock: run it in the test's market window
                # too, or its events would lie before every other test's and catch up their later quotes.
                offset = (fixture.start - datetime.now(UTC)).total_seconds()
                await sim.post(
                    "/_sim/config",
                    json={"retry_base_seconds": 0.05, "retry_max_seconds": 0.2, "clock_offset_seconds": offset},
                )
                yield fixture
    finally:
        if fixture is not None and fixture.created:
            # Later tests' quotes must not keep locking and moving this test's accounts.
            await fixture.query(
                "UPDATE rules.monitored_accounts SET status = 'stopped' WHERE account_id = ANY(CAST(:ids AS uuid[]))",
                ids=fixture.created,
            )
        background.worker.stop()
        await worker_task
        await channel.close()
        await platform.close()
        await server.stop()
        await sender.close()
        await engine.dispose()


@pytest.fixture
async def rules(database_url, redis_url, tmp_path):
    async with running_rules(database_url, redis_url, tmp_path) as fixture:
        yield fixture


@pytest.fixture
async def wired(database_url, redis_url, tmp_path):
    async with running_rules(database_url, redis_url, tmp_path, with_gateway=True) as fixture:
        yield fixture
