"""The mail worker: e-mail outbox → SMTP, with retries, backoff and a dead-letter state.

Each round claims due messages with a lease (so several workers share them and a crashed one's
claim runs out), sends each on its own connection, and records the outcome:
- accepted → `sent`, and the bodies are emptied (the link's token then lives only in the mailbox);
- a temporary failure (4xx, no connection, timeout, refused login) → retried after an
  exponential, jittered delay; after MAX_ATTEMPTS → `dead`;
- a permanent refusal (5xx other than a login failure) → `dead` at once: the relay will not
  change its mind about a message or recipient, and retrying would only repeat the refusal.
Dead messages stay in the table with their last error for support to read.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

import aiosmtplib
import asyncpg

from backend.context import AppContext
from backend.mail import queries
from backend.mail.notices import MailNotifier
from schema.backoff import Backoff

log = logging.getLogger("musubi.mail")

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=120)
# A relay that answered 4xx is busy or greylisting: minutes, then up to an hour between tries.
MAIL_BACKOFF = Backoff(first_s=30.0, cap_s=3600.0)


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class _Permanent(Exception):
    pass


@dataclass
class MailWorker:
    ctx: AppContext
    transport: MailTransport
    batch: int = 50
    poll_interval_s: float = 1.0
    backoff: Backoff = MAIL_BACKOFF

    async def run(self) -> None:
        while True:
            try:
                # Notices first, so a round sends what it has just planned.
                planned = await MailNotifier(self.ctx).plan()
                sent = await self.send_due()
            except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
                log.warning("mail round failed (%r); trying again", exc)
                planned = sent = 0
            if not planned and not sent:
                await asyncio.sleep(self.poll_interval_s)

    async def send_due(self) -> int:
        """One round: returns how many messages were attempted."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            due = await conn.fetch(queries.CLAIM_DUE, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._attempt(row) for row in due))
        return len(due)

    def _message(self, row: asyncpg.Record) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.ctx.settings.mail_from
        message["To"] = row["to_address"]
        message["Subject"] = row["subject"]
        message["Date"] = format_datetime(self.ctx.clock.now())
        # The same id on every attempt: a relay that got a message whose answer we lost may drop the repeat.
        domain = parseaddr(self.ctx.settings.mail_from)[1].rpartition("@")[2] or "musubi.localhost"
        message["Message-ID"] = f"<mail-{row['id']}@{domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(row["body_text"])
        message.add_alternative(row["body_html"], subtype="html")
        return message

    async def _attempt(self, row: asyncpg.Record) -> None:
        error: str | None = None
        permanent = False
        try:
            await self.transport.send(self._message(row))
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the message: keep it until the operator fixes the setting.
            error = f"authentication refused: {exc.code}"
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            permanent = all(code >= 500 for code in codes)
            error = f"recipient refused: {codes}"
        except aiosmtplib.SMTPResponseException as exc:
            permanent = exc.code >= 500
            error = f"{exc.code} {exc.message}"[:300]
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            if error is None:
                await conn.execute(queries.MARK_SENT, row["id"], now)
                log.info("mail %s (%s) sent", row["id"], row["kind"])
            elif permanent or row["attempts"] >= MAX_ATTEMPTS:
                await conn.execute(queries.MARK_DEAD, row["id"], error)
                log.error("mail %s (%s) dead after %d attempts: %s", row["id"], row["kind"], row["attempts"], error)
            else:
                delay = self.backoff.delay(row["attempts"])
                await conn.execute(queries.RETRY_LATER, row["id"], now + timedelta(seconds=delay), error)
                log.warning(
                    "mail %s (%s) attempt %d failed (%s); retrying", row["id"], row["kind"], row["attempts"], error
                )
