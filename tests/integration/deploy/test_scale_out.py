"""Stateless replicas: what two APIs and two gateways must keep."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from websockets.exceptions import ConnectionClosed

from tests.cluster import Cluster
from tests.integration.facilities.conftest import make_venue
from tests.realtime_client import stream_across_gateway_loss
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
    urls = (cluster.gateway_url(0), cluster.gateway_url(1))
    # SIGTERM, as in a rolling update.
    received, ended = await stream_across_gateway_loss(http, db, urls, person, cluster.gateways[0].terminate, total=200)
    assert isinstance(ended, ConnectionClosed)
    assert ended.rcvd is not None
    assert ended.rcvd.code == 1012
    ids = [e["id"] for e in received]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == 200


async def test_gateway_probes(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{cluster.gateways[1].port}/health")
        ready = await client.get(f"http://127.0.0.1:{cluster.gateways[1].port}/ready")
    assert health.status_code == 200
    assert ready.status_code == 200
