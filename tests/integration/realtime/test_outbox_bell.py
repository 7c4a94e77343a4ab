"""One writer at a time rings the relay (migration 0024_outbox_bell), and no row waits for the sweep.

Each test has a database and a relay of its own (the suite's relay would otherwise lead), with a
sweep a minute apart: every event must reach the bus on a wake-up or the relay's settling, never
on the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from realtime.bus import SUBSCRIBED, MemoryBus
from realtime.relay import _WRITING_LOCK, OutboxRelay
from tests.conftest import create_scratch_database, drop_database

SWEEP_S = 60.0
BELL = 0x62656C6C  # the ringer's lock in ring_outbox_bell()
INSERT = "INSERT INTO outbox (topic, type, payload, created_at) VALUES ($1, 'test.tick', '{}', now())"


@pytest.fixture
async def own_database(postgres_server_url: str) -> AsyncIterator[str]:
    from backend.core.db import migrate

    url = await create_scratch_database(postgres_server_url, prefix="musubi_bell")
    await migrate(url)
    yield url
    await drop_database(postgres_server_url, url)


@contextlib.asynccontextmanager
async def relay_on(url: str) -> AsyncIterator[asyncio.Queue[str]]:
    """A leading relay on `url`; yields the topics it publishes, in order."""
    bus = MemoryBus()
    topics: asyncio.Queue[str] = asyncio.Queue()
    subscribed = asyncio.Event()

    async def listen() -> None:
        async for message in bus.subscribe():
            if message == SUBSCRIBED:
                subscribed.set()
                continue
            topics.put_nowait(msgspec.json.decode(message)["topic"])

    listener = asyncio.create_task(listen())
    relay = OutboxRelay(url, bus, sweep_interval_s=SWEEP_S)
    running = asyncio.create_task(relay.run())
    await subscribed.wait()
    while not relay.is_leader:  # noqa: ASYNC110 - the relay's own flag, no event to wait on
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # past its first stamp: it is waiting for a bell
    try:
        yield topics
    finally:
        for task in (running, listener):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def next_topics(topics: asyncio.Queue[str], count: int, within_s: float = 10.0) -> list[str]:
    async with asyncio.timeout(within_s):
        return [await topics.get() for _ in range(count)]


async def test_a_writer_that_did_not_ring_is_published_once_it_commits(own_database: str) -> None:
    ringer, quiet = await asyncpg.connect(own_database), await asyncpg.connect(own_database)
    async with relay_on(own_database) as topics:
        try:
            # `quiet` commits slowly after its outbox rows: a deferred trigger of this test's own sleeps
            # after the bell's (deferred triggers fire in the order of their events).
            await quiet.execute(
                """
                CREATE TABLE slow_commit (n int);
                CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$;
                CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_commit
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
                """
            )
            # The ringer holds the bell, as a writer in the middle of its commit does.
            ringing = ringer.transaction()
            await ringing.start()
            await ringer.execute("SELECT pg_advisory_xact_lock($1)", BELL)
            await ringer.execute(INSERT, "test:ringer")

            async def commit_quietly() -> None:
                async with quiet.transaction():
                    await quiet.execute(INSERT, "test:quiet")
                    await quiet.execute("INSERT INTO slow_commit VALUES (1)")

            committing = asyncio.create_task(commit_quietly())
            # Wait until `quiet` is in its commit: past the bell (not rung: the ringer holds it),
            # holding the writing lock, sleeping in the test's trigger.
            async with asyncio.timeout(10):
                while not await ringer.fetchval(  # noqa: ASYNC110 - polling the database, no event to wait on
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"
                    " AND classid = $2 AND objid = $3 AND mode = 'ShareLock' AND granted)",
                    quiet.get_server_pid(),
                    _WRITING_LOCK >> 32,
                    _WRITING_LOCK & 0xFFFFFFFF,
                ):
                    await asyncio.sleep(0.01)
            await ringing.commit()  # rings: the relay wakes while `quiet` is still committing
            assert await next_topics(topics, 1) == ["test:ringer"]
            await committing
            # Without the relay's settling, this row would wait for the sweep, a minute away.
            assert await next_topics(topics, 1, within_s=5) == ["test:quiet"]
        finally:
            await ringer.close()
            await quiet.close()


async def test_a_rush_of_writers_is_published_whole_without_the_sweep(own_database: str) -> None:
    pool = await asyncpg.create_pool(own_database, min_size=20, max_size=20)
    assert pool is not None
    async with relay_on(own_database) as topics:
        try:

            async def writer(n: int) -> None:
                for k in range(25):
                    await pool.execute(INSERT, f"test:{n}:{k}")

            await asyncio.gather(*(writer(n) for n in range(40)))
            published = await next_topics(topics, 40 * 25)
            assert sorted(published) == sorted(f"test:{n}:{k}" for n in range(40) for k in range(25))
            # Each writer's own rows in the order it committed them.
            for n in range(40):
                mine = [t for t in published if t.startswith(f"test:{n}:")]
                assert mine == [f"test:{n}:{k}" for k in range(25)]
        finally:
            await pool.close()
