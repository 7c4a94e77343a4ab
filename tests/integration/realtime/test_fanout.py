from __future__ import annotations

import asyncio
import time

import asyncpg
import msgspec
from websockets.asyncio.client import ClientConnection

from realtime.tickets import TicketClaims, new_ticket_id, sign_ticket
from tests.cluster import Realtime
from tests.realtime_client import insert_events, next_events, open_socket, silent_for

TOPIC = "vacancy:facility:77"


def bench_ticket(secret: bytes, subscriber: int) -> str:
    # Signed here rather than asked of the API: 200 logins would say nothing about the fan-out.
    now = int(time.time())
    claims = TicketClaims(
        sub=subscriber, sid=0, jti=new_ticket_id(), topics=(TOPIC,), since=(0,), exp=now + 60, iat=now
    )
    return sign_ticket(secret, claims)


async def welcomed(realtime: Realtime, subscriber: int) -> ClientConnection:
    """A socket on TOPIC whose ticket the gateway has accepted (its welcome arrived)."""
    ws = await open_socket(realtime.url, bench_ticket(realtime.gateway.secret, subscriber))
    welcome = await ws.recv()
    assert isinstance(welcome, str), "every message is a JSON text frame, the welcome too"
    assert msgspec.json.decode(welcome)["type"] == "welcome"
    return ws


async def test_broadcast_to_many_sockets_delivers_each_event_once_in_order_including_mid_resume(
    realtime: Realtime, db: asyncpg.Pool
) -> None:
    await insert_events(db, TOPIC, 10)  # before anyone connects: only a resume can return them
    await asyncio.sleep(0.5)
    cursor = await db.fetchval("SELECT seq FROM outbox WHERE topic = $1 AND payload->>'n' = '5'", TOPIC)

    live: list[ClientConnection] = []
    for first in range(0, 150, 10):
        live += await asyncio.gather(*(welcomed(realtime, i) for i in range(first, first + 10)))
    # Long enough that the resuming sockets are still pending (buffering) while events flow.
    realtime.gateway.resume_wait_s = 10.0
    resuming: list[ClientConnection] = []
    for first in range(0, 50, 10):
        batch = [
            open_socket(realtime.url, bench_ticket(realtime.gateway.secret, 1000 + i)) for i in range(first, first + 10)
        ]
        resuming += await asyncio.gather(*batch)
    await asyncio.sleep(0.3)

    # Events 11–40 from concurrent writers, committing in any order; the resuming sockets send
    # their cursor while the events are on their way, so each one is buffered, replayed or live.
    async def write() -> None:
        await asyncio.gather(*(insert_events(db, TOPIC, 5, first=11 + 5 * w) for w in range(6)))

    async def resume() -> None:
        await asyncio.sleep(0.01)
        for ws in resuming:
            await ws.send(msgspec.json.encode({"type": "resume", "after": cursor}).decode())

    await asyncio.gather(write(), resume())

    got_live = await asyncio.gather(*(next_events(ws, 30, timeout_s=30) for ws in live))
    got_resumed = await asyncio.gather(*(next_events(ws, 35, timeout_s=30) for ws in resuming))
    for events in got_live:
        ids = [e["id"] for e in events]
        assert ids == sorted(set(ids))
        assert sorted(e["data"]["n"] for e in events) == list(range(11, 41))
    for events in got_resumed:
        ids = [e["id"] for e in events]
        assert ids == sorted(set(ids))
        assert ids[0] > cursor
        assert sorted(e["data"]["n"] for e in events) == list(range(6, 41))
    # Nothing more anywhere: no event reached a socket twice.
    quiet = await asyncio.gather(*(silent_for(ws, 0.5) for ws in live + resuming))
    assert all(quiet)
    await asyncio.gather(*(ws.close() for ws in live + resuming))
