"""The booking rush: many families, one slot, two API processes.

Conflicting inserts used to meet only at the exclusion constraint, where two in-flight
inserts can wait on each other until PostgreSQL's deadlock detector kills one: the slot was
then sometimes left unsold and families saw 5xx. These tests run the real API as two
processes (as `musubi serve --workers 2` would), so the races are real.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import httpx

from backend.core.settings import Settings
from tests.integration.facilities.conftest import Venue
from tests.processes import MusubiProcess, free_port, musubi_env
from tests.support import Actors, assert_problem

TRIALS = 10
CROWD = 200


@contextlib.asynccontextmanager
async def two_api_processes(database_url: str, settings: Settings) -> AsyncIterator[list[str]]:
    """Two `musubi serve` processes on one database, each with its own pool. The pools are as
    large as a server's default `max_connections` (100) allows beside the test's own, so dozens of
    the rush's inserts meet in PostgreSQL at once (where the deadlocks were). The time limits are
    raised because this machine may be shared: a slow queue is not what this test is about,
    a deadlock or a wrong answer is."""
    env = {
        **musubi_env(database_url, "memory://", settings),
        "MUSUBI_DB_POOL_MAX": "35",
        "MUSUBI_DB_STATEMENT_TIMEOUT_MS": "30000",
        "MUSUBI_DB_ACQUIRE_TIMEOUT_MS": "30000",
    }
    ports = [free_port(), free_port()]
    apis = [MusubiProcess("serve", {**env, "MUSUBI_PORT": str(port)}, port=port) for port in ports]
    try:
        await asyncio.gather(*(api.start() for api in apis))
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        # Stopped before the caller reads pg_stat_database: a backend reports its deadlocks when it exits.
        for api in apis:
            api.terminate()


async def deadlocks_so_far(db: asyncpg.Pool) -> int:
    async with db.acquire() as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        count: int = await conn.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    return count


async def test_rush_on_one_slot_across_two_api_processes_sells_it_exactly_once_every_time(
    database_url: str, test_settings: Settings, actors: Actors, free_venue: Venue, db: asyncpg.Pool
) -> None:
    crowd = await actors.many_residents(CROWD)
    deadlocks_before = await deadlocks_so_far(db)
    bad_trials = []
    limits = httpx.Limits(max_connections=CROWD, max_keepalive_connections=CROWD)
    async with (
        two_api_processes(database_url, test_settings) as apis,
        httpx.AsyncClient(base_url=apis[0], timeout=30, limits=limits) as first,
        httpx.AsyncClient(base_url=apis[1], timeout=30, limits=limits) as second,
    ):
        for trial in range(TRIALS):
            body = free_venue.slot(5 + trial // 12, 9 + trial % 12)  # a fresh slot each time
            responses = await asyncio.gather(
                *(
                    (first if index % 2 else second).post("/v1/bookings", json=body, headers=person.headers)
                    for index, person in enumerate(crowd)
                )
            )
            statuses = [r.status_code for r in responses]
            if statuses.count(201) != 1 or statuses.count(409) != CROWD - 1:
                bad_trials.append((trial, sorted(set(statuses)), statuses.count(201), statuses.count(409)))
                continue
            for response in responses:
                if response.status_code == 409:
                    assert_problem(response, 409, "slot-taken")
    assert bad_trials == [], (
        f"trials other than 1 × 201 and {CROWD - 1} × 409 (trial, statuses, 201s, 409s): {bad_trials}"
    )
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'confirmed'") == TRIALS
    await asyncio.sleep(0.5)  # the API processes' backends finish exiting
    assert await deadlocks_so_far(db) == deadlocks_before


async def test_cancel_handing_the_slot_to_a_waiter_during_a_rush_never_deadlocks(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue, db: asyncpg.Pool
) -> None:
    """The cancellation frees the slot and inserts a hold for the first waiter in one transaction.
    A booker who arrives in between used to wait on the cancellation while the hold waited on the
    booker: PostgreSQL killed one of them after a second, and someone saw a 500."""
    crowd = await actors.many_residents(60)
    holders, waiters = crowd[:TRIALS], crowd[TRIALS : 2 * TRIALS]
    rushers = crowd[2 * TRIALS :]
    for trial in range(TRIALS):
        slot = free_venue.slot(5 + trial // 12, 9 + trial % 12)
        booked = await http.post("/v1/bookings", json=slot, headers=holders[trial].headers)
        assert booked.status_code == 201, booked.text
        assert (await http.post("/v1/waitlist", json=slot, headers=waiters[trial].headers)).status_code == 201
        cancel = http.post(f"/v1/bookings/{booked.json()['id']}/cancel", headers=holders[trial].headers)
        rush = [http.post("/v1/bookings", json=slot, headers=person.headers) for person in rushers]
        cancelled, *attempts = await asyncio.gather(cancel, *rush)
        assert cancelled.status_code == 200, (trial, cancelled.text)
        statuses = sorted(r.status_code for r in attempts)
        assert statuses[-1] < 500, (trial, [r.text for r in attempts if r.status_code >= 500][:1])
        # Whoever came first — the waiter's hold or one rusher — holds the slot alone.
        live = await db.fetch(
            "SELECT account_id, status FROM bookings WHERE during = tstzrange($1, $2)"
            " AND status IN ('held', 'provisional', 'confirmed')",
            datetime.fromisoformat(slot["start"]),
            datetime.fromisoformat(slot["end"]),
        )
        assert len(live) == 1, (trial, live)
        assert statuses.count(201) == (0 if live[0]["status"] == "held" else 1), (trial, statuses, live)
