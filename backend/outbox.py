"""The transactional outbox: events are rows written with the change they describe."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from schema.events import Event, event_type

_INSERT = "INSERT INTO outbox (topic, type, payload, created_at) VALUES ($1, $2, $3, $4) RETURNING id"


async def emit(conn: asyncpg.Connection, *, topic: str, event: Event, at: datetime) -> int:
    """Queue `event` for `topic`. Call it inside the caller's transaction: if that rolls back,
    the event never existed; nothing is ever published from a handler after commit."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox events must be written inside the transaction of their change")
    payload = msgspec.to_builtins(event)
    outbox_id: int = await conn.fetchval(_INSERT, topic, event_type(event), payload, at)
    return outbox_id
