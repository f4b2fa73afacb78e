"""Issue 5's side of the platform: users and trading accounts as YourPropFirm's plugin creates them, with our
retries (same Idempotency-Key) never making a second account."""

from __future__ import annotations

import httpx
import pytest
import tenacity

from tests.integration.ypf_simulator.conftest import Simulator

USER = {
    "email": "ada@dynasty.test",
    "firstname": "Ada",
    "lastname": "Lovelace",
    "programId": "eval-50k",
    "mtVersion": "futures",
    "country": "US",
    "InvoiceId": "ord_1",
    "ProductId": "eval-50k",
}


def test_creating_a_user_with_a_program_opens_the_first_trading_account(sim: Simulator) -> None:
    reply = sim.api.post("/client/v1/users", json=USER)

    assert reply.status_code == 201
    user = reply.json()
    assert user["email"] == "ada@dynasty.test" and user["id"]
    (account,) = user["accounts"]
    assert account["userId"] == user["id"] and account["programId"] == "eval-50k"
    assert account["balance"] == account["startingBalance"] == "50000.00"
    assert account["status"] == "active" and account["canTrade"] is True
    assert account["login"].isdigit() and len(account["password"]) >= 8
    shown = sim.api.get(f"/client/v1/accounts/{account['id']}").json()
    assert shown["login"] == account["login"] and "password" not in shown  # credentials are shown once


def test_another_account_for_an_existing_user_and_registered_programs(sim: Simulator) -> None:
    user = sim.api.post("/client/v1/users", json={k: v for k, v in USER.items() if k != "programId"}).json()
    assert user["accounts"] == []
    assert (
        sim.control.post("/_sim/programs", json={"programId": "custom", "startingBalance": "75000"}).status_code == 201
    )

    second = sim.api.post(f"/client/v1/users/{user['id']}/accounts", json={"programId": "eval-100k"})
    third = sim.api.post(f"/client/v1/users/{user['id']}/accounts", json={"programId": "custom"})

    assert second.status_code == third.status_code == 201
    assert second.json()["balance"] == "100000.00" and third.json()["balance"] == "75000.00"
    accounts = sim.api.get(f"/client/v1/users/{user['id']}").json()["accounts"]
    assert [a["id"] for a in accounts] == [second.json()["id"], third.json()["id"]]
    assert second.json()["login"] != third.json()["login"]


def test_a_wrong_or_missing_client_key_is_401_and_changes_nothing(sim: Simulator) -> None:
    wrong = httpx.post(f"{sim.url}/client/v1/users", json=USER, headers={"X-Client-Key": "nope"})
    missing = httpx.post(f"{sim.url}/client/v1/users", json=USER)

    assert wrong.status_code == missing.status_code == 401
    assert "error" in wrong.json()
    assert sim.api.post("/client/v1/users", json=USER).status_code == 201  # the email was not taken by them


def test_an_existing_email_is_409_naming_the_user(sim: Simulator) -> None:
    first = sim.api.post("/client/v1/users", json=USER).json()
    again = sim.api.post("/client/v1/users", json={**USER, "email": "ADA@dynasty.test"})

    assert again.status_code == 409
    assert again.json()["userId"] == first["id"] and again.json()["error"]
    assert len(sim.api.get(f"/client/v1/users/{first['id']}").json()["accounts"]) == 1


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"firstname": "A", "lastname": "B"}', "email"),
        (b'{"email": "x@y.test", "lastname": "B"}', "firstname"),
        (b'{"email": "x@y.test", "firstname": "A", "lastname": "B", "programId": "mystery"}', "programId"),
    ],
)
def test_bad_bodies_are_400_with_an_error(sim: Simulator, body: bytes, complaint: str) -> None:
    reply = sim.api.post("/client/v1/users", content=body, headers={"Content-Type": "application/json"})

    assert reply.status_code == 400
    assert complaint in reply.json()["error"]
    assert sim.api.post("/client/v1/users", json={**USER, "email": "x@y.test"}).status_code == 201


def test_unknown_users_and_accounts_are_404(sim: Simulator) -> None:
    assert sim.api.post("/client/v1/users/nobody/accounts", json={"programId": "eval-50k"}).status_code == 404
    assert sim.api.get("/client/v1/accounts/nothing/snapshot").status_code == 404


def test_a_retry_with_the_same_idempotency_key_gets_the_same_answer_and_no_second_account(sim: Simulator) -> None:
    user = sim.api.post("/client/v1/users", json={**USER, "programId": None}).json()
    headers = {"Idempotency-Key": "order-42-account"}
    path = f"/client/v1/users/{user['id']}/accounts"

    first = sim.api.post(path, json={"programId": "eval-25k"}, headers=headers)
    retry = sim.api.post(path, json={"programId": "eval-25k"}, headers=headers)
    misuse = sim.api.post(path, json={"programId": "eval-50k"}, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert misuse.status_code == 422  # one key, one request
    assert len(sim.api.get(f"/client/v1/users/{user['id']}").json()["accounts"]) == 1


def test_tenacity_retries_through_5xx_and_a_lost_answer_without_a_duplicate(sim: Simulator) -> None:
    """The answer is lost after the account was made (error_mode=after), then the platform is down once more: our
    retry policy with one idempotency key ends with exactly one account, the one the first call created."""
    user = sim.api.post("/client/v1/users", json={**USER, "programId": None}).json()
    sim.configure(fail_next_calls=2, error_mode="after")
    calls = []

    @tenacity.retry(
        retry=tenacity.retry_if_exception_type(httpx.HTTPStatusError),
        stop=tenacity.stop_after_attempt(5),
        wait=tenacity.wait_fixed(0.01),
        reraise=True,
    )
    def provision() -> dict:
        reply = sim.api.post(
            f"/client/v1/users/{user['id']}/accounts",
            json={"programId": "eval-50k"},
            headers={"Idempotency-Key": "order-7"},
        )
        calls.append(reply.status_code)
        if reply.status_code >= 500:
            reply.raise_for_status()
        return reply.json()

    account = provision()

    assert calls == [503, 503, 201]
    assert [a["id"] for a in sim.api.get(f"/client/v1/users/{user['id']}").json()["accounts"]] == [account["id"]]


def test_a_refused_call_before_the_work_changes_nothing(sim: Simulator) -> None:
    sim.configure(fail_next_calls=1, error_mode="before", error_status=502)

    refused = sim.api.post("/client/v1/users", json=USER)
    accepted = sim.api.post("/client/v1/users", json=USER)

    assert refused.status_code == 502 and accepted.status_code == 201  # not 409: the first made nothing


def test_slow_answers_time_out_our_client_and_the_retry_finds_the_same_account(sim: Simulator) -> None:
    user = sim.api.post("/client/v1/users", json={**USER, "programId": None}).json()
    sim.configure(slow_rate=1.0, slow_seconds=0.5)
    path = f"/client/v1/users/{user['id']}/accounts"
    headers = {"Idempotency-Key": "order-slow"}

    with pytest.raises(httpx.ReadTimeout):
        sim.api.post(path, json={"programId": "eval-50k"}, headers=headers, timeout=0.2)
    sim.configure(slow_rate=0.0)
    retry = sim.api.post(path, json={"programId": "eval-50k"}, headers=headers)

    assert retry.status_code == 201
    assert len(sim.api.get(f"/client/v1/users/{user['id']}").json()["accounts"]) == 1


def test_a_share_of_calls_fails_when_error_rate_is_set(sim: Simulator) -> None:
    sim.configure(error_rate=0.5, seed=7)

    statuses = [sim.api.get("/client/v1/quotes/latest").status_code for _ in range(60)]

    assert set(statuses) == {200, 503}
    assert 15 <= statuses.count(503) <= 45
    assert sim.control.get("/_sim/config").status_code == 200  # the controls never misbehave
