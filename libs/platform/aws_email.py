"""The email port's SES adapter (production): the same `send(to, subject, body)` as the local mailbox.

The message is built exactly as libs/platform/mailbox.py builds it and handed to SESv2 as Content.Raw, so what a
developer reads in the devstack's .eml files is byte for byte the MIME we give SES. boto3 is synchronous; each call
runs in a worker thread so a slow SES answer never stalls the event loop (botocore clients are thread-safe).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr


class SesEmailSender:
    def __init__(self, ses_client, sender: str, *, configuration_set: str | None = None) -> None:
        self._ses = ses_client  # a boto3 "sesv2" client
        self._sender = sender
        self._configuration_set = configuration_set
        # SES replaces Message-ID on sending; a local one still lets our logs name the message before it does.
        self._message_id_domain = parseaddr(sender)[1].rpartition("@")[2] or "dynasty.local"

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self._message_id_domain)
        message.set_content(body)
        await asyncio.to_thread(self._send_raw, to, message.as_bytes(policy=policy.SMTP))

    def _send_raw(self, to: str, raw: bytes) -> str:
        request = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Raw": {"Data": raw}},
        }
        if self._configuration_set:
            # The configuration set routes bounces and complaints to our event destination.
            request["ConfigurationSetName"] = self._configuration_set
        return self._ses.send_email(**request)["MessageId"]
