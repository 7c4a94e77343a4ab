"""A childcare reservation in a rush (issue 16): one read of the child and the session, then one
statement (reserve_childcare_place) that takes the place, charges the hours and writes the
reservation, its audit row and its events; counted by the API itself, BEGIN and COMMIT included."""

from __future__ import annotations

import json

import asyncpg
import httpx

from tests.integration.childcare import test_childcare
from tests.integration.childcare.test_childcare import Nursery, child_of, in_days, reserve, session, years_before
from tests.support import Actors, assert_problem, statements

nursery = test_childcare.nursery  # the same nursery and staff as the childcare tests


async def test_a_reservation_costs_three_round_trips_and_writes_its_audit_row_and_events(
    counting: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(6)
    warm_session, session_id = await session(counting, nursery, day), await session(counting, nursery, day, "afternoon")
    parent = await actors.resident()
    child = await child_of(counting, parent, years_before(day, 4), approve_at=nursery)
    # Once, so each statement is prepared on the connection (a pool's cost, not a reservation's).
    assert (await reserve(counting, parent, warm_session, child)).status_code == 201

    reserved = await reserve(counting, parent, session_id, child)
    assert reserved.status_code == 201, reserved.text
    assert statements(reserved) == 3  # the session lookup, the read, the reservation
    reservation = reserved.json()
    assert reservation["status"] == "reserved"
    assert reservation["band"] == "3-5"
    assert reservation["hours"] == 4

    used = await db.fetchval("SELECT used FROM childcare_places WHERE session_id = $1 AND band = '3-5'", session_id)
    assert used == 1
    audited = await db.fetchval(
        "SELECT count(*) FROM audit WHERE action = 'childcare.reserve' AND subject_id = $1 AND reason = $2",
        str(child),
        f"session {session_id}",
    )
    assert audited == 1
    events = await db.fetch(
        "SELECT topic, type, payload FROM outbox WHERE type = 'childcare.reserved' AND payload->>'sessionId' = $1",
        str(session_id),
    )
    assert {e["topic"] for e in events} == {f"user:{parent.account_id}", f"nursery:{nursery.id}"}
    assert all(json.loads(e["payload"])["reservationId"] == reservation["id"] for e in events)


async def test_a_refused_reservation_leaves_the_places_and_the_hours_as_they_were(
    counting: httpx.AsyncClient, http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    town = await actors.organization("municipality", municipality_id=1)
    officer = await actors.member("municipality", "staff", town)
    quota = await http.put("/v1/municipalities/1/childcare-quota", json={"monthlyHours": 10}, headers=officer.headers)
    assert quota.status_code == 200, quota.text
    day = in_days(40).replace(day=12)
    morning, full_day = await session(http, nursery, day), await session(http, nursery, day.replace(day=13), "full_day")
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(day, 4), approve_at=nursery)

    assert (await reserve(counting, parent, morning, child)).status_code == 201  # 4 h of 10
    # A second place in the same session: the hours are charged, then childcare_reservations_once
    # refuses the reservation and the whole statement is undone.
    assert_problem(await reserve(counting, parent, morning, child), 409, "already-reserved")
    assert await db.fetchval("SELECT used FROM childcare_places WHERE session_id = $1 AND band = '3-5'", morning) == 1
    assert await db.fetchval("SELECT hours FROM childcare_hours_used WHERE child_id = $1", child) == 4
    # Over the quota (4 + 8 > 10): the place taken first goes back.
    assert_problem(await reserve(counting, parent, full_day, child), 409, "quota-exceeded")
    assert await db.fetchval("SELECT sum(used) FROM childcare_places WHERE session_id = $1", full_day) == 0
    assert await db.fetchval("SELECT hours FROM childcare_hours_used WHERE child_id = $1", child) == 4
