"""Challenges' credentials mail in production shape: settings choose SES (libs/platform/email_selection.py, the same
selection identity uses), and a purchase through the gateway ends with the credentials email sent by SES. SES is
moto's server (ADR 0043): boto3 serialises and signs exactly as against AWS."""

from __future__ import annotations

from email import message_from_string, policy

import pytest

from libs.platform.email_selection import EmailChoice, email_sender
from libs.platform.mailbox import LocalMailbox
from tests.integration.aws.test_aws_adapters import REGION, client, endpoint, sent_raw_messages
from tests.integration.challenges.conftest import purchase  # noqa: F401  (the purchase stack, with our settings)
from tests.integration.challenges.test_account_lifecycle import active_account

SENDER = "Dynasty Futures <accounts@dynasty.example>"
__all__ = ["endpoint"]  # the moto server fixture, shared with the adapters' tests


@pytest.fixture
def purchase_overrides(endpoint) -> dict:
    client(endpoint, "sesv2").create_email_identity(EmailIdentity="accounts@dynasty.example")
    client(endpoint, "sesv2").create_configuration_set(ConfigurationSetName="challenges-mail")
    return {
        "challenges_email_backend": "ses",
        "challenges_mail_from": SENDER,
        "challenges_ses_configuration_set": "challenges-mail",
        "aws_region": REGION,
        "aws_endpoint_url": endpoint,
    }


async def test_a_purchase_sends_the_credentials_through_ses(purchase, endpoint):  # noqa: F811
    before = len(sent_raw_messages())
    user_id, trader = purchase.trader()
    account = await active_account(purchase, trader)

    sent = [m for m in sent_raw_messages()[before:] if f"{user_id}@traders.test" in m.destinations]
    assert len(sent) == 1
    message = message_from_string(sent[0].raw_data, policy=policy.default)
    assert message["From"] == SENDER
    assert message["Subject"] == "Your Dynasty Futures trading account"
    body = message.get_content()
    assert account["id"] in body and "Platform login:" in body
    # The password is not in the mail (ADR 0045): it is revealed behind our sign-in instead.
    revealed = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["password"] not in sent[0].raw_data and "Platform password" not in body
    assert not list(purchase.mail_dir.glob("*.eml"))  # nothing went to the local folder


def test_the_selection_is_the_local_mailbox_unless_settings_say_ses_and_refuses_anything_else(tmp_path):
    local = email_sender(EmailChoice(backend="local", sender=SENDER, mail_dir=tmp_path))
    assert isinstance(local, LocalMailbox) and local.folder == tmp_path
    with pytest.raises(SystemExit, match="'smtp' is not one of local, ses"):
        email_sender(EmailChoice(backend="smtp", sender=SENDER, mail_dir=tmp_path))
