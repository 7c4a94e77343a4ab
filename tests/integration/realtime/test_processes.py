"""Several real API, gateway and relay processes on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.cluster import Cluster
from tests.realtime_client import (
    insert_events,
    next_events,
    open_socket,
    silent_for,
    stream_across_gateway_loss,
    ticket_for,
)
from tests.support import Actors


async def test_client_on_gateway_one_receives_event_committed_through_api_two(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    nurse = await actors.resident()
    ws = await open_socket(cluster.gateway_url(0), await ticket_for(http, nurse))
    await asyncio.sleep(0.7)
    token = await actors.invite(admin, hospital, nurse, "er_staff")
    async with httpx.AsyncClient(base_url=cluster.api_url(1)) as api_two:
        response = await api_two.post(f"/v1/invitations/{token}/accept", headers=nurse.headers)
    assert response.status_code == 201, response.text
    [event] = await next_events(ws, 1)
    assert event["type"] == "account.membership_granted"
    assert await silent_for(ws, 0.7)  # two relays, still exactly one copy
    await ws.close()


async def test_killed_gateway_client_resumes_on_the_other_exactly_once_in_order(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    urls = (cluster.gateway_url(0), cluster.gateway_url(1))
    received, _ = await stream_across_gateway_loss(http, db, urls, person, cluster.gateways[0].kill, total=300)
    ids = [e["id"] for e in received]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == 300
    assert sorted(e["data"]["n"] for e in received) == list(range(1, 301))


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
