"""Fixtures for tests that start real processes: a Redis server, and a cluster of Musubi processes.
Registered for every test by tests/conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from backend.settings import Settings
from realtime.bus import RedisBus
from realtime.gateway import Gateway
from realtime.relay import OutboxRelay
from tests.processes import MusubiProcess, RedisServer, free_port, musubi_env, terminate_all


@pytest.fixture(scope="session")
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    yield server
    server.cleanup()


LEADER_LOCK = 0x72656C6179


@dataclass
class Cluster:
    apis: list[MusubiProcess]
    gateways: list[MusubiProcess]
    relays: list[MusubiProcess]

    def gateway_url(self, index: int) -> str:
        return f"ws://127.0.0.1:{self.gateways[index].port}/"

    def api_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.apis[index].port}"


async def relay_leader_exists(db: asyncpg.Pool) -> bool:
    held = await db.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1",
        LEADER_LOCK & 0xFFFFFFFF,
    )
    return bool(held)


@contextlib.asynccontextmanager
async def running_cluster(
    database_url: str, redis_url: str, settings: Settings, db: asyncpg.Pool, *, size: int
) -> AsyncIterator[Cluster]:
    """`size` API processes, gateways and relays on one database and Redis."""
    env = musubi_env(database_url, redis_url, settings)
    # Short, so a request that died with its process frees its Idempotency-Key quickly in tests.
    env["MUSUBI_IDEMPOTENCY_LEASE_SECONDS"] = "2"
    gateway_ports = [free_port() for _ in range(size)]
    # Tickets tell clients where to connect: the first gateway.
    env["MUSUBI_GATEWAY_PUBLIC_URL"] = f"ws://127.0.0.1:{gateway_ports[0]}/"
    apis = [MusubiProcess("serve", {**env, "MUSUBI_PORT": str(p)}, port=p) for p in (free_port() for _ in range(size))]
    gateways = [MusubiProcess("gateway", {**env, "MUSUBI_GATEWAY_PORT": str(p)}, port=p) for p in gateway_ports]
    relays = [MusubiProcess("relay", env) for _ in range(size)]
    everything = [*apis, *gateways, *relays]
    try:
        # The first relay becomes the leader before the others start, so tests know which one leads.
        await relays[0].start()
        for _ in range(200):
            if await relay_leader_exists(db):
                break
            await asyncio.sleep(0.05)
        await asyncio.gather(*(p.start() for p in [*apis, *gateways, *relays[1:]]))
        await asyncio.sleep(0.5)  # gateways subscribe to Redis
        yield Cluster(apis, gateways, relays)
    finally:
        terminate_all(everything)
        for process in everything:
            with contextlib.suppress(Exception):
                if process.process and process.process.returncode not in (0, -15, None, -9):
                    print(process.command, process.output()[-2000:])


@pytest.fixture
async def cluster(
    database_url: str, redis_server: RedisServer, test_settings: Settings, db: asyncpg.Pool
) -> AsyncIterator[Cluster]:
    """Two of each process: for the tests of failover, scale-out and the realtime path across processes."""
    async with running_cluster(database_url, redis_server.url, test_settings, db, size=2) as running:
        yield running


@pytest.fixture
async def small_cluster(
    database_url: str, redis_server: RedisServer, test_settings: Settings, db: asyncpg.Pool
) -> AsyncIterator[Cluster]:
    """One of each process: what a browser test needs behind the web client, at half the start-up."""
    async with running_cluster(database_url, redis_server.url, test_settings, db, size=1) as running:
        yield running


@dataclass
class Realtime:
    gateway: Gateway
    relay: OutboxRelay

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}/"


@pytest.fixture
async def realtime(
    db: asyncpg.Pool, database_url: str, redis_server: RedisServer, test_settings: Settings
) -> AsyncIterator[Realtime]:
    """An in-process relay and gateway on the real Redis, started after the tables were emptied."""
    bus = RedisBus(redis_server.url)
    relay = OutboxRelay(database_url, bus, sweep_interval_s=0.2, standby_interval_s=0.1)
    relay_task = asyncio.create_task(relay.run())
    gateway = Gateway(secret=test_settings.secret, bus=bus, dsn=database_url, resume_wait_s=0.2)
    await gateway.start("127.0.0.1", 0)
    await asyncio.wait_for(gateway.subscribed.wait(), 10)
    yield Realtime(gateway, relay)
    await gateway.close()
    relay_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relay_task
    await bus.close()
