"""The stand-ins as the stack supervisor starts them: `python -m ...` processes that answer /healthz, and the
Stripe stand-in's state surviving a restart (it lives in --data-dir)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import stripe

from tests.conftest import REPO_ROOT
from tests.integration.standins.conftest import free_port


@contextmanager
def running(args: list[str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"{args[0]} did not become healthy:\n{output}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_stripe_standin_runs_as_a_module_and_keeps_its_state_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    args = [
        "devstack.stripe_standin",
        "--port", str(port),
        "--webhook-url", "http://127.0.0.1:9/unused",
        "--webhook-secret", "whsec_process_test",
        "--data-dir", str(tmp_path),
    ]  # fmt: skip
    with running(args, port) as url:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": url}, max_network_retries=0)
        customer = client.v1.customers.create(params={"email": "kept@dynasty.test"})

    with running(args, port) as url:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": url}, max_network_retries=0)
        assert client.v1.customers.retrieve(customer.id).email == "kept@dynasty.test"


def test_the_oidc_provider_runs_as_a_module_and_serves_its_discovery_document(tmp_path: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    gateway = "http://127.0.0.1:18080"
    args = ["devstack.oidc_provider", "--port", str(port), "--issuer", issuer, "--data-dir", str(tmp_path)]
    args += ["--gateway-url", gateway]
    with running(args, port) as url:
        discovery = httpx.get(f"{url}/.well-known/openid-configuration").json()
        first_kid = httpx.get(discovery["jwks_uri"]).json()["keys"][0]["kid"]
        start = {
            "response_type": "code",
            "client_id": "dynasty-google",
            "scope": "openid email",
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "login_hint": "trader@dynasty.test",
        }
        to_gateway = httpx.get(
            discovery["authorization_endpoint"],
            params={**start, "redirect_uri": f"{gateway}/v1/auth/oauth/google/callback"},
        )
        to_default = httpx.get(
            discovery["authorization_endpoint"],
            params={**start, "redirect_uri": "http://127.0.0.1:8080/v1/auth/oauth/google/callback"},
        )
    assert discovery["issuer"] == issuer and discovery["token_endpoint"] == f"{issuer}/token"
    assert to_gateway.status_code == 302 and to_gateway.headers["location"].startswith(gateway)
    assert to_default.status_code == 400  # only the gateway it was told about
    with running(args, port) as url:
        assert httpx.get(f"{url}/jwks").json()["keys"][0]["kid"] == first_kid  # the key survives a restart
