"""The mail path: outbox row in the change's transaction → worker → a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.mail import messages
from backend.mail.outbox import queue_mail
from backend.mail.sink import html_of, text_of
from backend.mail.transport import SmtpTransport
from backend.mail.worker import MAX_ATTEMPTS, MailWorker
from tests.smtp_sink import SmtpServer

LINK = "http://127.0.0.1:8000/verify?token=abc"


async def _queue(ctx: AppContext, to: str = "someone@example.jp", locale: messages.MailLocale = "en") -> int:
    async with ctx.acquire() as conn, conn.transaction():
        return await queue_mail(
            conn, account_id=None, to=to, mail=messages.verify_email(locale, LINK, 48), at=ctx.clock.now()
        )


async def test_queued_mail_arrives_as_text_and_html_and_its_body_is_then_forgotten(
    ctx: AppContext, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    mail_id = await _queue(ctx, locale="ja")
    [message] = await smtp.deliver(ctx)
    assert message["To"] == "someone@example.jp"
    assert message["Subject"] == "【Musubi】メールアドレスの確認"
    assert LINK in text_of(message)
    assert f'href="{LINK}"' in html_of(message)
    row = await db.fetchrow("SELECT status, attempts, body_text, body_html FROM email_outbox WHERE id = $1", mail_id)
    assert (row["status"], row["attempts"], row["body_text"], row["body_html"]) == ("sent", 1, "", "")
    assert await smtp.deliver(ctx) == []  # sent once, never again


async def test_mail_is_only_queued_inside_the_transaction_of_its_change(ctx: AppContext, db: asyncpg.Pool) -> None:
    mail = messages.password_changed("en")
    async with ctx.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await queue_mail(conn, account_id=None, to="x@example.jp", mail=mail, at=ctx.clock.now())
    async with ctx.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await queue_mail(conn, account_id=None, to="x@example.jp", mail=mail, at=ctx.clock.now())
        await transaction.rollback()  # the change failed after queueing
    assert await db.fetchval("SELECT count(*) FROM email_outbox") == 0


async def test_refused_then_accepted_mail_is_retried_after_a_backoff(
    ctx: AppContext, smtp: SmtpServer, db: asyncpg.Pool, clock: MovableClock
) -> None:
    mail_id = await _queue(ctx)
    smtp.sink.refusals = ["451 4.3.0 Try again later", "421 4.7.0 Busy"]
    assert await smtp.deliver(ctx) == []
    row = await db.fetchrow(
        "SELECT status, attempts, next_attempt_at, last_error FROM email_outbox WHERE id = $1", mail_id
    )
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] > clock.now()
    assert "451" in row["last_error"]
    assert await smtp.deliver(ctx) == []  # not due yet: nothing was even tried
    assert smtp.sink.refused == 1
    clock.advance(timedelta(hours=2))
    assert await smtp.deliver(ctx) == []
    clock.advance(timedelta(hours=2))
    [message] = await smtp.deliver(ctx)
    assert LINK in text_of(message)
    assert await db.fetchval("SELECT status FROM email_outbox WHERE id = $1", mail_id) == "sent"
    assert smtp.sink.refused == 2


async def test_permanent_refusal_goes_to_the_dead_letter_state_at_once(
    ctx: AppContext, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    mail_id = await _queue(ctx)
    smtp.sink.refusals = ["550 5.1.1 No such mailbox"]
    assert await smtp.deliver(ctx) == []
    row = await db.fetchrow("SELECT status, attempts, last_error, body_text FROM email_outbox WHERE id = $1", mail_id)
    assert (row["status"], row["attempts"], row["body_text"]) == ("dead", 1, "")
    assert "550" in row["last_error"]


async def test_unreachable_relay_is_retried_until_the_message_is_dead(
    ctx: AppContext, db: asyncpg.Pool, clock: MovableClock, unused_tcp_port: int
) -> None:
    mail_id = await _queue(ctx)
    worker = MailWorker(ctx, SmtpTransport.from_url(f"smtp://127.0.0.1:{unused_tcp_port}?timeout=2"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await worker.send_due() == 1
        status = await db.fetchval("SELECT status FROM email_outbox WHERE id = $1", mail_id)
        assert status == ("dead" if attempt == MAX_ATTEMPTS else "pending")
        clock.advance(timedelta(hours=2))
    assert await worker.send_due() == 0
