"""Stateless replicas: what two APIs and two gateways must keep."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.cluster import Cluster
from tests.integration.facilities.conftest import make_venue
from tests.realtime_client import (
    insert_events,
    next_events,
    open_socket,
    read_until_closed,
    silent_for,
    ticket_for,
)
from tests.support import Actors


async def test_concurrent_bookings_over_two_apis_keep_every_invariant(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, db: asyncpg.Pool
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None, maxBookingsPerMonth=2)
    crowd = await actors.many_residents(60)
    apis = [httpx.AsyncClient(base_url=cluster.api_url(n), timeout=30) for n in (0, 1)]
    try:
        hot = venue.slot(4, 10)
        hot_responses = await asyncio.gather(
            *(apis[n % 2].post("/v1/bookings", json=hot, headers=p.headers) for n, p in enumerate(crowd))
        )
        assert sorted(r.status_code for r in hot_responses) == [201] + [409] * 59
        # One person on both APIs at once, over the monthly cap of 2.
        person = crowd[0]
        capped = await asyncio.gather(
            *(apis[h % 2].post("/v1/bookings", json=venue.slot(4, h), headers=person.headers) for h in range(11, 19))
        )
        won_hot = hot_responses[0].status_code == 201
        assert [r.status_code for r in capped].count(201) == 2 - won_hot
    finally:
        for api in apis:
            await api.aclose()
    overlaps = await db.fetchval(
        """
        SELECT count(*) FROM bookings a JOIN bookings b ON a.resource_id = b.resource_id AND a.id < b.id
           AND a.during && b.during
         WHERE a.status IN ('held', 'provisional', 'confirmed') AND b.status IN ('held', 'provisional', 'confirmed')
        """
    )
    assert overlaps == 0
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", crowd[0].account_id) <= 2


async def test_sigterm_to_a_gateway_sends_1012_and_clients_resume_on_the_other(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    ws = await open_socket(cluster.gateway_url(0), await ticket_for(http, person))
    await asyncio.sleep(0.7)
    total = 200

    async def produce() -> None:
        for first in range(1, total + 1, 10):
            await insert_events(db, topic, 10, first=first)
            await asyncio.sleep(0.01)

    producer = asyncio.create_task(produce())
    received: list[dict[str, Any]] = await next_events(ws, 30)
    cluster.gateways[0].terminate()  # SIGTERM: a rolling update
    with pytest.raises(ConnectionClosed) as closed:
        await read_until_closed(ws, received)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
    ws = await open_socket(cluster.gateway_url(1), await ticket_for(http, person), after=received[-1]["id"])
    received.extend(await next_events(ws, total - len(received), timeout_s=30))
    await producer
    ids = [e["id"] for e in received]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == total
    assert await silent_for(ws, 0.5)
    with contextlib.suppress(Exception):
        await ws.close()


async def test_gateway_probes(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{cluster.gateways[1].port}/health")
        ready = await client.get(f"http://127.0.0.1:{cluster.gateways[1].port}/ready")
    assert health.status_code == 200
    assert ready.status_code == 200
