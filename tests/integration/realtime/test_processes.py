"""Several real API, gateway and relay processes on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from backend.settings import Settings
from tests.integration.realtime.conftest import insert_events, next_events, open_socket, silent_for, ticket_for
from tests.processes import MusubiProcess, RedisServer, free_port
from tests.support import Actors

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


@pytest.fixture
async def cluster(
    database_url: str, redis_server: RedisServer, test_settings: Settings, db: asyncpg.Pool
) -> AsyncIterator[Cluster]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "MUSUBI_SECRET_KEY": test_settings.secret_key or "",
        "MUSUBI_ARGON2_TIME_COST": "1",
        "MUSUBI_ARGON2_MEMORY_KIB": "1024",
        "MUSUBI_ARGON2_PARALLELISM": "1",
        "MUSUBI_LOG_LEVEL": "WARNING",
    }
    apis = [MusubiProcess("serve", {**env, "MUSUBI_PORT": str(p)}, port=p) for p in (free_port(), free_port())]
    gateways = [
        MusubiProcess("gateway", {**env, "MUSUBI_GATEWAY_PORT": str(p)}, port=p) for p in (free_port(), free_port())
    ]
    relays = [MusubiProcess("relay", env), MusubiProcess("relay", env)]
    everything = [*apis, *gateways, *relays]
    try:
        # The first relay becomes the leader before the second starts, so tests know which one leads.
        await relays[0].start()
        for _ in range(200):
            if await relay_leader_exists(db):
                break
            await asyncio.sleep(0.05)
        await asyncio.gather(*(p.start() for p in [*apis, *gateways, relays[1]]))
        await asyncio.sleep(0.5)  # gateways subscribe to Redis
        yield Cluster(apis, gateways, relays)
    finally:
        for process in everything:
            process.terminate()
        for process in everything:
            with contextlib.suppress(Exception):
                if process.process and process.process.returncode not in (0, -15, None, -9):
                    print(process.command, process.output()[-2000:])


async def test_client_on_gateway_one_receives_event_committed_through_api_two(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    nurse = await actors.resident()
    ws = await open_socket(cluster.gateway_url(0), await ticket_for(http, nurse))
    await asyncio.sleep(0.7)
    async with httpx.AsyncClient(base_url=cluster.api_url(1)) as api_two:
        response = await api_two.post(
            f"/v1/organizations/{hospital}/members",
            json={"email": nurse.email, "role": "er_staff"},
            headers=admin.headers,
        )
    assert response.status_code == 201, response.text
    [event] = await next_events(ws, 1)
    assert event["type"] == "account.membership_granted"
    assert await silent_for(ws, 0.7)  # two relays, still exactly one copy
    await ws.close()


async def test_killed_gateway_client_resumes_on_the_other_exactly_once_in_order(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    ticket = await ticket_for(http, person)
    ws = await open_socket(cluster.gateway_url(0), ticket)
    await asyncio.sleep(0.7)
    total = 300

    async def produce() -> None:
        for first in range(1, total + 1, 10):
            await insert_events(db, topic, 10, first=first)
            await asyncio.sleep(0.01)

    producer = asyncio.create_task(produce())
    received: list[dict[str, Any]] = await next_events(ws, 40)
    cluster.gateways[0].kill()  # SIGKILL mid-stream
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(5):
            while True:
                received.extend(await next_events(ws, 1))
    ws = await open_socket(cluster.gateway_url(1), await ticket_for(http, person), after=received[-1]["id"])
    received.extend(await next_events(ws, total - len(received), timeout_s=30))
    await producer
    ids = [e["id"] for e in received]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == total
    assert sorted(e["data"]["n"] for e in received) == list(range(1, total + 1))
    assert await silent_for(ws, 0.5)
    await ws.close()


async def test_relay_leader_killed_standby_takes_over(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    ws = await open_socket(cluster.gateway_url(1), await ticket_for(http, person))
    await asyncio.sleep(0.7)
    await insert_events(db, topic, 5)
    assert len(await next_events(ws, 5)) == 5
    cluster.relays[0].kill()
    await insert_events(db, topic, 5, first=6)
    events = await next_events(ws, 5, timeout_s=20)
    assert [e["data"]["n"] for e in events] == [6, 7, 8, 9, 10]
    assert await silent_for(ws, 0.5)
    await ws.close()
