"""Several real API, gateway and relay processes on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import httpx
from websockets.exceptions import ConnectionClosed

from tests.cluster import Cluster
from tests.realtime_client import insert_events, next_events, open_socket, silent_for, ticket_for
from tests.support import Actors


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
