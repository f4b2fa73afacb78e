"""Which email adapter a service sends through, chosen by its settings: the local mailbox (devstack, tests) or SES
(production). One function for every service that sends mail (identity's links, challenges' credentials), so the
choice and its refusals are the same everywhere.

boto3 is imported only when SES is chosen; credentials come from boto3's own chain (the ECS task role in AWS), the
region from AWS_REGION unless the service says otherwise, and the endpoint is None in production (a local AWS
emulator, moto's server, in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from libs.platform.mailbox import LocalMailbox

if TYPE_CHECKING:
    from libs.platform.aws_email import SesEmailSender

EMAIL_BACKENDS = ("local", "ses")


@dataclass(frozen=True)
class EmailChoice:
    backend: str  # local | ses
    sender: str  # the From header, e.g. "Dynasty Futures <accounts@dynastyfutures.com>"
    mail_dir: Path  # local: where the .eml files go
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    ses_configuration_set: str | None = None  # routes bounces and complaints; its TLS policy applies to our mail


def aws_client(service: str, *, region: str | None, endpoint_url: str | None):
    """A boto3 client with bounded retries and timeouts (botocore clients are thread-safe)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10)
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def email_sender(choice: EmailChoice) -> LocalMailbox | SesEmailSender:
    """The adapter the settings ask for; an unknown backend stops the service at start-up and says why."""
    if choice.backend == "ses":
        from libs.platform.aws_email import SesEmailSender

        return SesEmailSender(
            aws_client("sesv2", region=choice.aws_region, endpoint_url=choice.aws_endpoint_url),
            choice.sender,
            configuration_set=choice.ses_configuration_set,
        )
    if choice.backend != "local":
        raise SystemExit(f"email backend {choice.backend!r} is not one of {', '.join(EMAIL_BACKENDS)}")
    return LocalMailbox(choice.mail_dir, choice.sender)
