"""A local SMTP server that keeps what it receives: `musubi dev`'s mailbox, and the tests' relay.

Each message is written as an .eml file under the folder given (data_dir/mail in `musubi dev`)
and its links are announced, so a developer can click through a sign-up or a reset without a
real mail account.
"""

from __future__ import annotations

import asyncio
import email
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

_LINK = re.compile(r"https?://\S+")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


def links_in(message: EmailMessage) -> list[str]:
    return _LINK.findall(text_of(message))


class MailSink:
    """The aiosmtpd handler: accepts every message, keeps it, and tells `announce` about it."""

    def __init__(self, folder: Path | None = None, announce: Callable[[str], None] | None = None) -> None:
        self.folder = folder
        self.announce = announce
        self.messages: list[EmailMessage] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.arrived.set()
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Time first, so `ls` lists them in order across restarts of `musubi dev`.
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}.eml"
            (self.folder / name).write_bytes(content)
        if self.announce is not None:
            lines = [f"mail to {message['To']}: {message['Subject']}", *(f"  {link}" for link in links_in(message))]
            self.announce("\n".join(lines))
        return "250 Message accepted for delivery"


async def start_sink(handler: Any, host: str, port: int) -> asyncio.Server:
    """Serve `handler` over SMTP on host:port in the running event loop (port 0 picks a free one)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTP(handler, hostname="musubi-sink"), host, port)
