from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from backend.core.settings import Settings
from realtime.bus import MemoryBus
from realtime.gateway import CLOSE_SESSION_AGED, CLOSE_SLOW_CONSUMER, Gateway
from realtime.relay import OutboxRelay
from tests.cluster import Realtime
from tests.realtime_client import (
    insert_events,
    next_events,
    open_socket,
    read_until_closed,
    ticket_for,
)
from tests.support import Actors


async def test_slow_consumer_is_cut_off_and_others_keep_flowing(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    realtime.gateway.max_write_buffer = 256 * 1024
    sleeper, reader = await actors.resident(), await actors.resident()
    # The sleeper's socket is opened but never read: a phone stuck in a tunnel.
    sleepy = await connect(
        f"{realtime.url}?ticket={await ticket_for(http, sleeper, ['vacancy:facility:1'])}", max_size=2**22
    )
    sleepy.transport.set_write_buffer_limits(high=0)  # type: ignore[union-attr]
    sleepy.transport.pause_reading()  # type: ignore[union-attr]
    awake = await open_socket(realtime.url, await ticket_for(http, reader, ["vacancy:facility:1"]))
    await asyncio.sleep(0.4)
    # 10 MB in small batches: the reader keeps up, the sleeper's buffers fill.
    padding, batches, per_batch = "x" * 2_000, 100, 50
    reading = asyncio.create_task(next_events(awake, batches * per_batch, timeout_s=60))
    for batch in range(batches):
        await db.execute(
            """
            INSERT INTO outbox (topic, type, payload, created_at)
            SELECT 'vacancy:facility:1', 'test.padded', jsonb_build_object('n', g, 'pad', $1::text), now()
              FROM generate_series($2::int, $2::int + $3::int - 1) g
            """,
            padding,
            batch * per_batch + 1,
            per_batch,
        )
        await asyncio.sleep(0.01)
    events = await reading
    assert [e["data"]["n"] for e in events] == list(range(1, batches * per_batch + 1))
    sleepy.transport.resume_reading()  # type: ignore[union-attr]
    with pytest.raises(ConnectionClosed) as closed:
        await read_until_closed(sleepy)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_SLOW_CONSUMER
    await awake.close()


@contextlib.asynccontextmanager
async def gateway_on_memory_bus(database_url: str, secret: bytes, **options: Any) -> AsyncIterator[Gateway]:
    """A relay and a gateway of this test's own on the in-process bus (no Redis)."""
    bus = MemoryBus()
    relay_task = asyncio.create_task(OutboxRelay(database_url, bus, sweep_interval_s=0.2).run())
    gateway = Gateway(secret=secret, bus=bus, dsn=database_url, resume_wait_s=0.2, **options)
    await gateway.start("127.0.0.1", 0)
    try:
        yield gateway
    finally:
        await gateway.close()
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task


async def test_in_process_bus_carries_events_without_redis(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    async with gateway_on_memory_bus(database_url, test_settings.secret) as gateway:
        person = await actors.resident()
        ws = await open_socket(f"ws://127.0.0.1:{gateway.port}/", await ticket_for(http, person))
        await asyncio.sleep(0.3)
        await insert_events(db, f"user:{person.account_id}", 3)
        assert [e["data"]["n"] for e in await next_events(ws, 3)] == [1, 2, 3]
        await ws.close()


async def test_an_aged_socket_is_closed_and_a_fresh_ticket_resumes_without_loss(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    async with gateway_on_memory_bus(database_url, test_settings.secret, ping_interval_s=0.1, max_age_s=2.0) as gateway:
        url = f"ws://127.0.0.1:{gateway.port}/"
        person = await actors.resident()
        topic = f"user:{person.account_id}"
        ws = await open_socket(url, await ticket_for(http, person))
        await asyncio.sleep(0.3)
        await insert_events(db, topic, 2)
        seen = await next_events(ws, 2)
        with pytest.raises(ConnectionClosed) as closed:
            await read_until_closed(ws, seen, timeout_s=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CLOSE_SESSION_AGED
        await insert_events(db, topic, 2, first=3)  # while the client is away
        again = await open_socket(url, await ticket_for(http, person), after=seen[-1]["id"])
        seen += await next_events(again, 2)
        assert [e["data"]["n"] for e in seen] == [1, 2, 3, 4]
        await again.close()
