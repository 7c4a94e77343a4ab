"""A real SMTP server for the tests (aiosmtpd on loopback) and the mail worker pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from backend.core.context import AppContext
from backend.mail.sink import MailSink, links_in, start_sink
from backend.mail.transport import SmtpTransport
from backend.mail.worker import MailWorker


class RefusingSink(MailSink):
    """Answers the next messages with the queued SMTP replies (e.g. "451 …"), then accepts again."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals: list[str] = []
        self.refused = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals:
            self.refused += 1
            return self.refusals.pop(0)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class SmtpServer:
    port: int
    sink: RefusingSink
    seen: int = field(default=0)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=false&timeout=5"

    def worker(self, ctx: AppContext) -> MailWorker:
        return MailWorker(ctx, SmtpTransport.from_url(self.url))

    async def deliver(self, ctx: AppContext) -> list[EmailMessage]:
        """Run the mail worker once against this server; the messages that arrived since last asked."""
        await self.worker(ctx).send_due()
        return self.new_messages()

    def new_messages(self) -> list[EmailMessage]:
        fresh = self.sink.messages[self.seen :]
        self.seen = len(self.sink.messages)
        return fresh

    async def link_to(self, ctx: AppContext, address: str, path: str) -> str:
        """Deliver, and return the one link of the newest message to `address` whose link goes to
        `path` ("/verify", "/reset-password", "/invitations"): mails queued together, such as a
        sign-up's verification and a reset, may arrive in any order, so the newest is not enough."""
        await self.deliver(ctx)
        mine = [m for m in self.sink.messages if m["To"] == address and f"{path}?" in str(links_in(m))]
        assert mine, f"no mail to {address}"
        links = links_in(mine[-1])
        assert len(links) == 1, links
        return links[0]


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    sink = RefusingSink()
    server = await start_sink(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield SmtpServer(port=port, sink=sink)
    server.close()
    await server.wait_closed()
