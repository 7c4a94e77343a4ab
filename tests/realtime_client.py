"""Websocket client helpers for tests: tickets, sockets, reading events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import Actor


async def ticket_for(http: httpx.AsyncClient, actor: Actor, topics: list[str] | None = None) -> str:
    body = {"topics": topics} if topics is not None else None
    response = await http.post("/v1/realtime/tickets", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def open_socket(
    url: str, ticket: str, after: int | None = None, *, cursor_in_url: bool = False
) -> ClientConnection:
    """Connect; with `after`, resume by a first message (or the ?after= parameter)."""
    query = f"ticket={ticket}" + (f"&after={after}" if cursor_in_url else "")
    ws = await connect(f"{url}?{query}", open_timeout=10, max_size=2**20)
    if after is not None and not cursor_in_url:
        await ws.send(msgspec.json.encode({"type": "resume", "after": after}).decode())
    return ws


async def next_events(ws: ClientConnection, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The next `count` events, skipping welcome and ping messages."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while len(events) < count:
            message = msgspec.json.decode(await ws.recv())
            if "id" in message:
                events.append(message)
    return events


async def silent_for(ws: ClientConnection, seconds: float) -> bool:
    """True if no event (only welcome/ping, or nothing) arrives for `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = msgspec.json.decode(await ws.recv())
                if "id" in message:
                    return False
    except TimeoutError:
        return True


async def insert_events(db: asyncpg.Pool, topic: str, count: int, first: int = 1) -> None:
    await db.execute(
        """
        INSERT INTO outbox (topic, type, payload, created_at)
        SELECT $1, 'test.tick', jsonb_build_object('n', g), now() FROM generate_series($2::int, $3::int) g
        """,
        topic,
        first,
        first + count - 1,
    )


async def read_until_closed(
    ws: ClientConnection, into: list[dict[str, Any]] | None = None, timeout_s: float = 30
) -> None:
    """Read (keeping events in `into`) until the server closes; raises the ConnectionClosed."""
    async with asyncio.timeout(timeout_s):
        while True:
            message = msgspec.json.decode(await ws.recv())
            if into is not None and "id" in message:
                into.append(message)


async def stream_across_gateway_loss(
    http: httpx.AsyncClient,
    db: asyncpg.Pool,
    gateway_urls: tuple[str, str],
    person: Actor,
    stop_first_gateway: Callable[[], None],
    total: int,
) -> tuple[list[dict[str, Any]], BaseException | None]:
    """Stream `total` events to `person` on the first gateway, stop it mid-stream, resume on the
    second from the last id seen. Returns every event received and how the first socket ended."""
    topic = f"user:{person.account_id}"
    ws = await open_socket(gateway_urls[0], await ticket_for(http, person))
    await asyncio.sleep(0.7)

    async def produce() -> None:
        for first in range(1, total + 1, 10):
            await insert_events(db, topic, 10, first=first)
            await asyncio.sleep(0.01)

    producer = asyncio.create_task(produce())
    received = await next_events(ws, total // 8)
    stop_first_gateway()
    ended: BaseException | None = None
    try:
        await read_until_closed(ws, received, timeout_s=10)
    except (ConnectionClosed, TimeoutError) as exc:
        ended = exc
    ws = await open_socket(gateway_urls[1], await ticket_for(http, person), after=received[-1]["id"])
    received.extend(await next_events(ws, total - len(received), timeout_s=30))
    await producer
    assert await silent_for(ws, 0.5)  # and nothing after: no duplicates
    await ws.close()
    return received, ended
