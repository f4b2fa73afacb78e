"""The purchase path for real, on one machine: the Stripe stand-in and the YourPropFirm simulator (uvicorn threads),
the gateway (uvicorn thread, real routes and webhook verification), and the challenges service in process (real
PostgreSQL, Redis, provisioning worker). Our real Stripe SDK adapter and httpx client talk to them over sockets.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import stripe

from devstack.stripe_standin.app import build_app
from devstack.ypf_simulator.app import build_app as build_simulator
from gateway.app import create_app
from libs.platform.mailbox import LocalMailbox
from libs.platform.service_main import build_server
from services.challenges.adapters.stripe.payments import StripePayments
from services.challenges.adapters.yourpropfirm.client import YourPropFirmClient
from services.challenges.main import Adapters, Background, build_wire
from services.challenges.settings import ChallengesSettings
from tests.integration.standins.conftest import ServerThread, free_port
from tests.unit.gateway.tokens import TestKeys

WEBHOOK_SECRET = "whsec_purchase_tests"
STRIPE_KEY = "sk_test_purchase"
YPF_KEY = "ypf_test_client_key"


@dataclass
class Simulator:
    """The YourPropFirm simulator's own API and its /_sim controls, for the tests' checks and knobs."""

    http: httpx.AsyncClient
    database_url: str

    async def configure(self, **knobs) -> None:
        (await self.http.post("/_sim/config", json=knobs)).raise_for_status()

    async def accounts_of(self, account_id: str) -> list[dict]:
        """Every platform account of the platform user behind one of our accounts."""
        from sqlalchemy import text

        from libs.platform.db import create_engine

        engine = create_engine(self.database_url, "challenges", pool_size=1)
        try:
            async with engine.connect() as conn:
                user_id = (
                    await conn.execute(
                        text("SELECT platform_user_id FROM challenges.trading_accounts WHERE account_id = :a"),
                        {"a": account_id},
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        reply = await self.http.get(f"/client/v1/users/{user_id}", headers={"X-Client-Key": YPF_KEY})
        reply.raise_for_status()
        return reply.json()["accounts"]


class Directory:
    """identity's GetMe, played by the test: each trader's email is derived from their id."""

    async def email_of_caller(self, bearer_token: str) -> str:
        import jwt

        subject = jwt.decode(bearer_token, options={"verify_signature": False})["sub"]
        return f"{subject}@traders.test"


@dataclass
class Purchase:
    gateway: httpx.AsyncClient
    stripe_control: httpx.AsyncClient
    stripe: stripe.StripeClient
    platform: Simulator
    keys: TestKeys
    mail_dir: Path
    worker: object
    channel_target: str

    def trader(self) -> tuple[str, dict[str, str]]:
        user_id = str(uuid.uuid4())
        return user_id, {"authorization": f"Bearer {self.keys.mint(user_id, 'trader')}"}

    def staff(self, role: str = "admin") -> dict[str, str]:
        token = self.keys.mint(str(uuid.uuid4()), role, amr=("pwd", "otp"))
        return {"authorization": f"Bearer {token}"}

    async def configure(self, **knobs) -> None:
        (await self.stripe_control.post("/_standin/config", json=knobs)).raise_for_status()

    async def order(
        self, headers: dict, program_id: str = "eval-50k", key: str | None = None, **extra
    ) -> httpx.Response:
        return await self.gateway.post(
            "/v1/orders",
            json={
                "program_id": program_id,
                "success_url": "https://app.test/done",
                "cancel_url": "https://app.test/cancel",
                **extra,
            },
            headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
        )

    async def pay(self, session_id: str, outcome: str = "succeeded") -> dict:
        reply = await self.stripe_control.post(
            f"/_standin/checkout/sessions/{session_id}/pay", json={"outcome": outcome}
        )
        assert reply.status_code == 200, reply.text
        return reply.json()

    async def wait_for_account(
        self, headers: dict, status: str = "phase_1", within: float = 15.0, count: int = 1
    ) -> dict:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            accounts = (await self.gateway.get("/v1/accounts", headers=headers)).json()["accounts"]
            if len(accounts) == count and all(a["status"] == status for a in accounts):
                return accounts
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no account reached {status}: {accounts}")
            await asyncio.sleep(0.05)

    async def deliveries_idle(self, within: float = 15.0) -> list[dict]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            state = (await self.stripe_control.get("/_standin/deliveries")).json()
            if state.get("idle"):
                return state["attempts"]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the stand-in's webhook queue did not drain")
            await asyncio.sleep(0.05)


@pytest.fixture
def purchase_overrides() -> dict:
    """Settings a test module changes for its purchase stack (override this fixture); with
    `challenges_email_backend` set, mail goes through the adapter the settings choose instead of the test's folder."""
    return {}


@pytest.fixture
async def purchase(database_url, redis_url, tmp_path, purchase_overrides):
    keys = TestKeys()
    gateway_port, stripe_port, ypf_port = free_port(), free_port(), free_port()
    stripe_url = f"http://127.0.0.1:{stripe_port}"
    standin = build_app(
        tmp_path / "stripe",
        public_url=stripe_url,
        webhook_url=f"http://127.0.0.1:{gateway_port}/v1/webhooks/stripe",
        webhook_secret=WEBHOOK_SECRET,
    )
    ypf_url = f"http://127.0.0.1:{ypf_port}"
    simulator = build_simulator(tmp_path / "ypf", client_key=YPF_KEY, webhook_url=None, webhook_secret="ypf_whsec")
    mail_dir = tmp_path / "mail"
    settings = ChallengesSettings(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        grpc_port=free_port(),
        stripe_api_key=STRIPE_KEY,
        stripe_api_base=stripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        challenges_provisioning_poll_seconds=0.1,
        **purchase_overrides,
    )
    ypf = YourPropFirmClient(ypf_url, YPF_KEY, backoff_seconds=0.01)
    background = Background()
    adapters = Adapters(
        payments=StripePayments(STRIPE_KEY, base=stripe_url),
        platform=ypf,
        users=Directory(),
        mailer=None
        if "challenges_email_backend" in purchase_overrides
        else LocalMailbox(mail_dir, "Dynasty Futures <accounts@dynasty.test>"),
    )

    def wire(runtime):
        import dataclasses

        return dataclasses.replace(build_wire(adapters, background, settings)(runtime), jwks_source=keys.jwks_source)

    server, _relay, sender, engine = await build_server("challenges", settings, wire)
    await server.start()
    worker_task = asyncio.create_task(background.worker.run())
    target = f"127.0.0.1:{server.port}"
    from gateway.settings import GatewaySettings

    gateway_settings = GatewaySettings(
        REDIS_URL=redis_url,
        identity_target=target,
        challenges_target=target,
        rules_target=target,
        payouts_target=target,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )
    gateway_app = create_app(gateway_settings, jwks_source=keys.jwks_source)
    with ServerThread(standin, stripe_port), ServerThread(simulator, ypf_port), ServerThread(gateway_app, gateway_port):
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}", timeout=20) as gateway,
            httpx.AsyncClient(base_url=stripe_url, timeout=20) as control,
            httpx.AsyncClient(base_url=ypf_url, timeout=20) as ypf_control,
        ):
            fixture = Purchase(
                gateway=gateway,
                stripe_control=control,
                stripe=stripe.StripeClient(STRIPE_KEY, base_addresses={"api": stripe_url}, max_network_retries=0),
                platform=Simulator(ypf_control, database_url),
                keys=keys,
                mail_dir=mail_dir,
                worker=background.worker,
                channel_target=target,
            )
            await fixture.configure(retry_base_seconds=0.05, retry_max_seconds=0.2)
            yield fixture
            background.worker.stop()
            await worker_task
    await ypf.close()
    await server.stop()
    await sender.close()
    await engine.dispose()
