"""The audit trail: who looked at or changed personal data, when, and why."""

from __future__ import annotations

from datetime import datetime

import asyncpg

_INSERT = """
INSERT INTO audit (actor_account_id, action, subject_type, subject_id, reason, at)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def record_audit(
    conn: asyncpg.Connection,
    *,
    actor: int | None,
    action: str,
    subject_type: str,
    subject_id: int | str,
    reason: str | None,
    at: datetime,
) -> None:
    """Write one audit row. Call it inside the transaction that reads or changes the subject,
    so the access and its record stand or fall together."""
    await conn.execute(_INSERT, actor, action, subject_type, str(subject_id), reason, at)
