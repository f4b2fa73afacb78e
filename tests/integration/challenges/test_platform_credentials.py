"""The trading-platform password is kept sealed and revealed once behind our sign-in, never mailed (ADR 0045).

The real purchase path (gateway, Stripe stand-in, YourPropFirm simulator, challenges service on real PostgreSQL and
Redis): the credentials mail names the login and a reveal link, not the password; GET /v1/accounts/{id}/credentials
gives the platform's password to its trader once, audited without it; the stored value is an envelope; the sweep
and the re-reveal window run with a fixed clock against the same database.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import text

from libs.domain.clock import FixedClock
from libs.platform.db import create_engine, session_factory
from libs.platform.mailbox import read_mailbox
from libs.platform.master_key_selection import MasterKeyChoice, envelope_cipher
from services.challenges.adapters.sealing import EnvelopeSealer
from services.challenges.adapters.sql.credentials_unit_of_work import SqlAlchemyCredentialsUnitOfWork
from services.challenges.application.actor import Caller
from services.challenges.application.erase_platform_credentials import ErasePlatformCredentials
from services.challenges.application.reveal_platform_credentials import (
    RevealPlatformCredentials,
    RevealPlatformCredentialsHandler,
)
from services.challenges.domain.platform_credentials import CredentialsGone, SealedPlatformCredentials
from services.challenges.main import EVENT_ROUTES

MASTER_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


@pytest.fixture
def purchase_overrides() -> dict:
    # A zero window: the first reveal erases the sealed password in its own transaction, so the gateway's second
    # reveal is refused at once (the window itself is tested with a fixed clock below).
    return {"challenges_master_key": MASTER_KEY, "challenges_credentials_reveal_window_seconds": 0}


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url, "challenges", pool_size=2)
    yield engine
    await engine.dispose()


def uow_factory(db, clock):
    sessions = session_factory(db)

    def uow():
        return SqlAlchemyCredentialsUnitOfWork(
            sessions, schema="challenges", source="challenges", clock=clock, routes=EVENT_ROUTES
        )

    return uow


def platform_password(tmp_path, login: str) -> str:
    """The password the simulator issued, from its own store (the platform's side of the truth)."""
    with sqlite3.connect(tmp_path / "ypf" / "ypf_simulator.sqlite3") as platform:
        (password,) = platform.execute(
            "SELECT json_extract(body, '$.password') FROM accounts WHERE json_extract(body, '$.login') = ?", (login,)
        ).fetchone()
    return password


async def bought(purchase) -> tuple[str, dict, dict]:
    user_id, trader = purchase.trader()
    ordered = await purchase.order(trader)
    assert ordered.status_code == 201, ordered.text
    await purchase.pay(ordered.json()["checkout_url"].rsplit("/", 1)[-1])
    (account,) = await purchase.wait_for_account(trader)
    return user_id, trader, account


async def stored_row(db, account_id: str) -> dict:
    async with db.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT * FROM challenges.platform_credentials WHERE account_id = :a"), {"a": account_id}
            )
        ).one()
    return dict(row._mapping)


async def test_the_mail_has_no_password_and_the_trader_reveals_it_once(purchase, db, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    user_id, trader, account = await bought(purchase)
    password = platform_password(tmp_path, account["platform_login"])
    assert len(password) >= 8

    (mail,) = read_mailbox(purchase.mail_dir, to=f"{user_id}@traders.test")
    body = mail.get_content()
    assert f"Platform login: {account['platform_login']}" in body
    assert f"/accounts/{account['id']}/credentials" in body
    assert password not in body and "Platform password:" not in body

    sealed = await stored_row(db, account["id"])
    assert sealed["password_sealed"].startswith("v1.") and password not in str(sealed)
    assert sealed["revealed_at"] is None and sealed["platform_login"] == account["platform_login"]

    reveal = await purchase.gateway.get(
        f"/v1/accounts/{account['id']}/credentials", headers={**trader, "X-Forwarded-For": "203.0.113.7"}
    )
    assert reveal.status_code == 200, reveal.text
    shown = reveal.json()
    assert shown["login"] == account["platform_login"] and shown["password"] == password
    assert shown["repeat"] is False and reveal.headers["cache-control"] == "no-store"

    again = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
    assert again.status_code == 410, again.text
    problem = again.json()
    assert problem["reason"] == "CREDENTIALS_GONE" and problem["revealed_at"].startswith(shown["revealed_at"][:19])
    assert "revealed at" in problem["detail"] and "reset your password on the trading platform" in problem["detail"]
    assert password not in again.text

    erased = await stored_row(db, account["id"])
    assert erased["password_sealed"] is None and erased["erased_reason"] == "revealed"
    assert erased["revealed_at"] is not None and erased["reveal_count"] == 1
    async with db.connect() as conn:
        audit = (
            await conn.execute(
                text(
                    "SELECT action, actor_id, actor_role, ip, before::text, after::text FROM challenges.audit_log "
                    "WHERE subject_id = :s ORDER BY id"
                ),
                {"s": account["id"]},
            )
        ).all()
    (revealed,) = [row for row in audit if row.action == "account.platform_credentials_revealed"]
    assert revealed.actor_id == user_id and revealed.actor_role == "trader" and revealed.ip
    assert account["platform_login"] in revealed.after
    assert all(password not in str(tuple(row)) for row in audit)
    assert all(password not in record.getMessage() and password not in str(record.args) for record in caplog.records)


async def test_another_trader_is_told_it_does_not_exist_and_staff_cannot_read_it(purchase, db):
    _, _, account = await bought(purchase)
    _, stranger = purchase.trader()
    other = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=stranger)
    assert other.status_code == 404, other.text
    for role in ("support", "admin"):
        staff = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=purchase.staff(role))
        assert staff.status_code == 403, staff.text
    bad = await purchase.gateway.get("/v1/accounts/not-a-uuid/credentials", headers=stranger)
    assert bad.status_code == 400, bad.text
    untouched = await stored_row(db, account["id"])
    assert untouched["password_sealed"] is not None and untouched["reveal_count"] == 0
    assert untouched["revealed_at"] is None


async def test_the_sweep_erases_a_password_never_revealed_after_the_retention(purchase, db):
    _, trader, account = await bought(purchase)
    sealed_at = (await stored_row(db, account["id"]))["sealed_at"]
    clock = FixedClock(sealed_at + timedelta(days=7) - timedelta(seconds=1))
    sweep = ErasePlatformCredentials(
        uow_factory(db, clock), clock, retention=timedelta(days=7), reveal_window=timedelta(seconds=60)
    )
    await sweep.run_once()
    assert (await stored_row(db, account["id"]))["password_sealed"] is not None  # one second early: kept

    clock.advance(timedelta(seconds=1))
    assert await sweep.run_once() >= 1
    erased = await stored_row(db, account["id"])
    assert erased["password_sealed"] is None and erased["erased_reason"] == "expired"
    assert erased["revealed_at"] is None
    clock.advance(timedelta(days=1))
    await sweep.run_once()  # erased once: a later pass does not touch the row again
    assert (await stored_row(db, account["id"]))["erased_at"] == erased["erased_at"]

    late = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
    assert late.status_code == 410 and "never revealed" in late.json()["detail"]


async def test_a_repeat_within_the_window_answers_the_same_password_then_the_sweep_erases_it(purchase, db, tmp_path):
    user_id, _, account = await bought(purchase)
    password = platform_password(tmp_path, account["platform_login"])
    sealer = EnvelopeSealer(envelope_cipher(MasterKeyChoice(local_key=MASTER_KEY)))
    sealed_at = (await stored_row(db, account["id"]))["sealed_at"]
    clock = FixedClock(sealed_at + timedelta(hours=1))
    uow = uow_factory(db, clock)
    reveal = RevealPlatformCredentialsHandler(uow, sealer, clock, reveal_window=timedelta(seconds=60))
    trader = Caller(actor_id=user_id, role="trader", ip="198.51.100.4")

    first = await reveal(RevealPlatformCredentials(caller=trader, account_id=account["id"]))
    clock.advance(timedelta(seconds=59))
    second = await reveal(RevealPlatformCredentials(caller=trader, account_id=account["id"]))
    assert first.password == second.password == password
    assert (first.repeat, second.repeat) == (False, True) and second.revealed_at == first.revealed_at

    sweep = ErasePlatformCredentials(uow, clock, retention=timedelta(days=7), reveal_window=timedelta(seconds=60))
    await sweep.run_once()
    assert (await stored_row(db, account["id"]))["password_sealed"] is not None  # the window is still open
    clock.advance(timedelta(seconds=1))
    with pytest.raises(CredentialsGone, match="revealed at"):
        await reveal(RevealPlatformCredentials(caller=trader, account_id=account["id"]))
    row = await stored_row(db, account["id"])
    assert row["password_sealed"] is None and row["erased_reason"] == "revealed" and row["reveal_count"] == 2
    assert row["revealed_ip"] == "198.51.100.4"


class CrashingMailer:
    """Fails its first send (the worker dies after the platform answered, before its commit), then delivers."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures = 1

    async def send(self, to: str, subject: str, body: str) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("worker died after the platform call")
        self.sent.append((to, body))


class Notices:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def notify_user(self, user_id: str, notice: dict) -> None:
        self.sent.append(notice)


async def test_a_job_that_dies_after_the_platform_call_keeps_the_platforms_one_password(purchase, db, tmp_path):
    from services.challenges.adapters.yourpropfirm.client import YourPropFirmClient
    from services.challenges.application.provision_accounts import ProvisionAccountsWorker
    from tests.integration.challenges.conftest import YPF_KEY

    purchase.worker.stop()  # this test runs the worker itself, with a mailer that dies once
    user_id, trader = purchase.trader()
    ordered = await purchase.order(trader)
    await purchase.pay(ordered.json()["checkout_url"].rsplit("/", 1)[-1])
    (account,) = await purchase.wait_for_account(trader, status="provisioning")
    clock = FixedClock((await stored_order_time(db, account["id"])) + timedelta(minutes=1))
    mailer, platform = CrashingMailer(), YourPropFirmClient(str(purchase.platform.http.base_url), YPF_KEY)
    worker = ProvisionAccountsWorker(
        uow_factory(db, clock),
        platform,
        mailer,
        Notices(),
        clock,
        sealer=EnvelopeSealer(envelope_cipher(MasterKeyChoice(local_key=MASTER_KEY))),
        reveal_url=lambda account_id: f"https://app.test/accounts/{account_id}/credentials",
        retention=timedelta(days=7),
    )
    try:
        await worker.run_once()  # opens the platform account, then dies before the commit: nothing of ours stored
        async with db.connect() as conn:
            kept = await conn.execute(
                text("SELECT count(*) FROM challenges.platform_credentials WHERE account_id = :a"), {"a": account["id"]}
            )
            assert kept.scalar_one() == 0
        clock.advance(timedelta(minutes=10))  # past the retry's backoff
        await worker.run_once()
    finally:
        await platform.close()
    (on_platform,) = await purchase.platform.accounts_of(account["id"])  # the same platform account, not a second
    password = platform_password(tmp_path, on_platform["login"])
    ((_to, body),) = [sent for sent in mailer.sent if sent[0] == f"{user_id}@traders.test"]
    assert on_platform["login"] in body and password not in body
    (active,) = await purchase.wait_for_account(trader)
    assert active["platform_login"] == on_platform["login"]
    reveal = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
    assert reveal.status_code == 200 and reveal.json()["password"] == password


async def stored_order_time(db, account_id: str):
    async with db.connect() as conn:
        return (
            await conn.execute(
                text("SELECT created_at FROM challenges.trading_accounts WHERE account_id = :a"), {"a": account_id}
            )
        ).scalar_one()


async def test_a_second_store_of_the_same_account_never_overwrites_the_first_sealed_value(purchase, db):
    _, _, account = await bought(purchase)
    first = await stored_row(db, account["id"])
    clock = FixedClock(first["sealed_at"] + timedelta(minutes=1))
    async with uow_factory(db, clock)() as uow:
        stored = await uow.platform_credentials.add(
            SealedPlatformCredentials(
                account_id=first["account_id"],
                user_id=first["user_id"],
                login="someone-else",
                password_sealed="v1.other.other.other",
                sealed_at=clock.now(),
            )
        )
        await uow.commit()
    assert stored is False
    assert await stored_row(db, account["id"]) == first


async def test_an_account_still_provisioning_has_nothing_to_reveal_yet(purchase, db):
    await purchase.platform.configure(fail_next_calls=10_000, error_mode="before")
    _, trader = purchase.trader()
    ordered = await purchase.order(trader)
    await purchase.pay(ordered.json()["checkout_url"].rsplit("/", 1)[-1])
    (account,) = await purchase.wait_for_account(trader, status="provisioning")
    try:
        early = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
        assert early.status_code == 409, early.text
        assert early.json()["reason"] == "CREDENTIALS_NOT_READY"
    finally:
        await purchase.platform.configure(fail_next_calls=0)
