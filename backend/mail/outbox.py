"""Queue a message in the transaction of the change it tells of (as backend/core/outbox.py does for events).

If the change rolls back, the message was never queued; if it commits, the mail worker sends
it however long the relay is down. Nothing is sent from a request handler.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from backend.mail import queries
from backend.mail.messages import Mail


async def queue_mail(conn: asyncpg.Connection, *, account_id: int | None, to: str, mail: Mail, at: datetime) -> int:
    if not conn.is_in_transaction():
        raise RuntimeError("mail must be queued inside the transaction of its change")
    mail_id: int = await conn.fetchval(
        queries.INSERT_MAIL, account_id, to, mail.kind, mail.locale, mail.subject, mail.text, mail.html, at
    )
    return mail_id
