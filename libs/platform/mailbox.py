"""The local email adapter: every outgoing message becomes an .eml file in a folder a developer (or a test) reads.

Production sends through SES behind the same `send(to, subject, body)` shape. Files are named
<UTC timestamp>-<random>.eml, so a directory listing is in sending order; they are written to a temporary name
and renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path


class LocalMailbox:
    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = Path(folder)
        self._sender = sender

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="dynasty.local")
        message.set_content(body)
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(message.as_bytes(policy=policy.SMTP))
        temporary.rename(self.folder / f"{name}.eml")


def read_mailbox(folder: Path, to: str | None = None) -> list[EmailMessage]:
    """Messages in sending order, optionally only those to one address (for tests and `make up`)."""
    messages = []
    for path in sorted(Path(folder).glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if to is None or message["To"] == to:
            messages.append(message)
    return messages
