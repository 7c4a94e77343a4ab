"""What one person can pile up is bounded: push devices and open waitlist entries per account
(Idempotency-Keys of callers without an account are bounded per address: test_idempotency.py).
Each bound holds under a burst of concurrent requests, and is answered with problem+json."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import asyncpg
import httpx

from backend.core.context import AppContext
from tests.integration.childcare import test_childcare
from tests.integration.childcare.test_childcare import Nursery, child_of, in_days, session, years_before
from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import Actors, assert_problem

nursery = test_childcare.nursery  # the same nursery and staff as the childcare tests


def new_token() -> str:
    return secrets.token_hex(32)


async def test_devices_per_account_are_bounded(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, ctx: AppContext
) -> None:
    cap = ctx.settings.max_devices_per_account
    person = await actors.resident()

    async def register(token: str) -> httpx.Response:
        return await http.post("/v1/devices", json={"platform": "ios", "token": token}, headers=person.headers)

    tokens = [new_token() for _ in range(cap - 1)]
    for token in tokens:
        assert (await register(token)).status_code == 201
    burst = await asyncio.gather(*(register(new_token()) for _ in range(3)))
    assert sorted(r.status_code for r in burst) == [201, 409, 409]
    for refused in (r for r in burst if r.status_code == 409):
        assert_problem(refused, 409, "too-many-devices")
    assert await db.fetchval("SELECT count(*) FROM devices WHERE account_id = $1", person.account_id) == cap
    # The same phone registering again is not a new device; removing one makes room.
    assert (await register(tokens[0])).status_code == 201
    first_id = await db.fetchval("SELECT min(id) FROM devices WHERE account_id = $1", person.account_id)
    assert (await http.delete(f"/v1/devices/{first_id}", headers=person.headers)).status_code == 204
    assert (await register(new_token())).status_code == 201


async def test_facility_waitlist_entries_per_account_are_bounded(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, ctx: AppContext
) -> None:
    cap = ctx.settings.max_waitlist_entries_per_account
    venue: Venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    holder, waiter = await actors.resident(), await actors.resident()
    slots = [venue.slot(5, 9 + hour) for hour in range(3)]
    for slot in slots:
        assert (await http.post("/v1/bookings", json=slot, headers=holder.headers)).status_code == 201
    # Entries the waiter already holds elsewhere (other days of the resource).
    await db.execute(
        "INSERT INTO waitlist_entries (resource_id, account_id, during, status, created_at)"
        " SELECT $1, $2, tstzrange(now() + n * interval '1 day', now() + n * interval '1 day' + interval '1 hour'),"
        " 'waiting', now() FROM generate_series(10, 9 + $3) AS n",
        venue.resource_id,
        waiter.account_id,
        cap - 1,
    )
    burst = await asyncio.gather(*(http.post("/v1/waitlist", json=s, headers=waiter.headers) for s in slots))
    assert sorted(r.status_code for r in burst) == [201, 409, 409]
    for refused in (r for r in burst if r.status_code == 409):
        assert_problem(refused, 409, "too-many-waitlist-entries")
    assert await db.fetchval("SELECT count(*) FROM waitlist_entries WHERE account_id = $1", waiter.account_id) == cap
    # Someone else is not affected.
    other = await actors.resident()
    assert (await http.post("/v1/waitlist", json=slots[0], headers=other.headers)).status_code == 201


async def test_childcare_waitlist_entries_per_parent_are_bounded(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool, ctx: AppContext
) -> None:
    cap = ctx.settings.max_waitlist_entries_per_account
    parent = await actors.resident()
    day = in_days(8)
    full = [await session(http, nursery, day + timedelta(days=n), three_five=0) for n in range(3)]
    child = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
    # Entries the parent already holds (earlier sessions of the nursery).
    await db.execute(
        "WITH s AS (INSERT INTO childcare_sessions (nursery_id, day, block, created_at)"
        "  SELECT $1, current_date + 40 + n, 'morning', now() FROM generate_series(1, $3) AS n RETURNING id)"
        " INSERT INTO childcare_waitlist (session_id, child_id, band, status, created_at)"
        " SELECT id, $2, '3-5', 'waiting', now() FROM s",
        nursery.id,
        child,
        cap - 1,
    )
    burst = await asyncio.gather(
        *(
            http.post("/v1/childcare/waitlist", json={"sessionId": s, "childId": child}, headers=parent.headers)
            for s in full
        )
    )
    assert sorted(r.status_code for r in burst) == [201, 409, 409], [r.text for r in burst]
    for refused in (r for r in burst if r.status_code == 409):
        assert_problem(refused, 409, "too-many-waitlist-entries")
    assert await db.fetchval("SELECT count(*) FROM childcare_waitlist WHERE child_id = $1", child) == cap
