"""Stripe Identity through the official SDK: the flows issue 4's KYC adapter relies on, and their webhooks."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.integration.standins.conftest import Receiver, Standin


def _create(client: stripe.StripeClient, **extra: object) -> stripe.identity.VerificationSession:
    return client.v1.identity.verification_sessions.create(
        params={"type": "document", "metadata": {"user_id": "u-42"}, "return_url": "http://app.test/kyc", **extra}
    )


def test_a_created_session_waits_for_input_with_a_url_to_open(client: stripe.StripeClient, standin: Standin) -> None:
    session = _create(client, client_reference_id="u-42")

    assert isinstance(session, stripe.identity.VerificationSession)
    assert session.id.startswith("vs_")
    assert session.status == "requires_input"
    assert session.metadata["user_id"] == "u-42"
    assert session.client_reference_id == "u-42"
    assert session.livemode is False
    assert session.url.startswith(standin.url)
    page = httpx.get(session.url)
    assert page.status_code == 200 and session.id in page.text
    again = client.v1.identity.verification_sessions.retrieve(session.id)
    assert again.to_dict() == session.to_dict()


def test_verifying_sends_processing_then_verified_signed_as_stripe_signs(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    session = _create(client)

    standin.post(f"/_standin/identity/verification_sessions/{session.id}/verify")

    receiver.wait_for(lambda ds: len(ds) == 3)
    events = receiver.verified_events()
    assert [e.type for e in events] == [
        "identity.verification_session.created",
        "identity.verification_session.processing",
        "identity.verification_session.verified",
    ]
    verified = events[2].data.object
    assert verified.id == session.id and verified.status == "verified"
    assert verified.metadata["user_id"] == "u-42"
    assert verified.last_verification_report.startswith("vr_")
    assert events[2].livemode is False and events[2].api_version
    assert client.v1.identity.verification_sessions.retrieve(session.id).status == "verified"


def test_a_failed_check_returns_to_requires_input_with_stripes_error_code(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    session = _create(client)

    standin.post(f"/_standin/identity/verification_sessions/{session.id}/processing")
    standin.post(f"/_standin/identity/verification_sessions/{session.id}/requires_input", code="document_expired")

    receiver.wait_for(lambda ds: len(ds) == 3)
    events = receiver.verified_events()
    assert [e.type for e in events] == [
        "identity.verification_session.created",
        "identity.verification_session.processing",
        "identity.verification_session.requires_input",
    ]
    assert events[2].data.object.last_error.code == "document_expired"
    current = client.v1.identity.verification_sessions.retrieve(session.id)
    assert current.status == "requires_input" and current.last_error.code == "document_expired"


def test_an_unknown_failure_code_is_refused_so_tests_only_send_what_stripe_sends(
    client: stripe.StripeClient, standin: Standin
) -> None:
    session = _create(client)
    reply = standin.control.post(
        f"/_standin/identity/verification_sessions/{session.id}/requires_input", json={"code": "made_up"}
    )
    assert reply.status_code == 400
    assert client.v1.identity.verification_sessions.retrieve(session.id).status == "requires_input"


def test_cancel_sends_canceled_and_a_processing_session_cannot_be_canceled(
    client: stripe.StripeClient, standin: Standin, receiver: Receiver
) -> None:
    first = _create(client)
    canceled = client.v1.identity.verification_sessions.cancel(first.id)
    assert canceled.status == "canceled" and canceled.url is None

    second = _create(client)
    standin.post(f"/_standin/identity/verification_sessions/{second.id}/processing")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.identity.verification_sessions.cancel(second.id)
    assert refused.value.http_status == 400
    assert "processing" in refused.value.user_message

    receiver.wait_for(lambda ds: len(ds) == 4)
    assert receiver.types() == [
        "identity.verification_session.created",
        "identity.verification_session.canceled",
        "identity.verification_session.created",
        "identity.verification_session.processing",
    ]


def test_redact_clears_the_verified_data(client: stripe.StripeClient, standin: Standin) -> None:
    session = _create(client)
    outputs = {"first_name": "Ann"}
    standin.post(f"/_standin/identity/verification_sessions/{session.id}/verify", verified_outputs=outputs)
    assert client.v1.identity.verification_sessions.retrieve(session.id).verified_outputs.first_name == "Ann"

    redacted = client.v1.identity.verification_sessions.redact(session.id)

    assert redacted.redaction.status == "redacted"
    assert redacted.verified_outputs is None


def test_the_hosted_page_sends_the_browser_back_to_the_return_url(
    client: stripe.StripeClient, standin: Standin
) -> None:
    session = _create(client)
    reply = httpx.post(
        f"{standin.url}/_standin/identity/verification_sessions/{session.id}/verify", data={"redirect": "true"}
    )
    assert reply.status_code == 303 and reply.headers["location"] == "http://app.test/kyc"


def test_an_unknown_session_is_stripes_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.identity.verification_sessions.retrieve("vs_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
