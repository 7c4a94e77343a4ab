"""The transactional outbox: events are rows written with the change they describe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from schema.events import Event, event_type

_INSERT = """
INSERT INTO outbox (topic, type, payload, created_at)
SELECT topic, type, payload, $4 FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS e(topic, type, payload)
"""


def outbox_columns(events: Sequence[tuple[str, Event]]) -> tuple[list[str], list[str], list[Any]]:
    """Topics, types and payloads of (topic, event) pairs, as arrays for one INSERT … unnest: for
    emit_all, and for an SQL function that writes its change and its events in one statement."""
    return (
        [topic for topic, _ in events],
        [event_type(event) for _, event in events],
        [msgspec.to_builtins(event) for _, event in events],
    )


async def emit_all(conn: asyncpg.Connection, events: Sequence[tuple[str, Event]], *, at: datetime) -> None:
    """Queue (topic, event) pairs in one statement. Call it inside the caller's transaction: if
    that rolls back, the events never existed; nothing is published from a handler after commit."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox events must be written inside the transaction of their change")
    await conn.execute(_INSERT, *outbox_columns(events), at)


async def emit(conn: asyncpg.Connection, *, topic: str, event: Event, at: datetime) -> None:
    await emit_all(conn, [(topic, event)], at=at)
