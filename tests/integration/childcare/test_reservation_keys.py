"""A childcare reservation writes its Idempotency-Key in its own statement (issue 16, as a booking
does: backend/core/command_keys.py): the key and the reservation commit together or not at all, and a
retry gets the reservation as it is now, re-read through GET /v1/childcare/reservations/{id} as the
parent. What the middleware promised for every key still holds: one reservation however many
duplicates race, 422 for the key with another body, refusals replayed too."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import asyncpg
import httpx

from tests.integration.childcare import test_childcare
from tests.integration.childcare.test_childcare import Nursery, child_of, in_days, session, years_before
from tests.support import Actor, Actors, assert_key_written_by_command, assert_problem, statements

nursery = test_childcare.nursery  # the same nursery and staff as the childcare tests


def keyed(parent: Actor, key: str | None = None) -> dict[str, str]:
    return {**parent.headers, "Idempotency-Key": key or str(uuid.uuid4())}


async def reserve(http: httpx.AsyncClient, session_id: int, child_id: int, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        "/v1/childcare/reservations", json={"sessionId": session_id, "childId": child_id}, headers=headers
    )


async def test_the_reservation_and_its_key_are_written_together_in_three_round_trips(
    counting: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(9)
    warm_session, session_id = await session(counting, nursery, day), await session(counting, nursery, day, "afternoon")
    parent = await actors.resident()
    child = await child_of(counting, parent, years_before(day, 4), approve_at=nursery)
    # Once, so each statement is prepared on the connection (a pool's cost, not a reservation's).
    assert (await reserve(counting, warm_session, child, keyed(parent))).status_code == 201

    headers = keyed(parent)
    reserved = await reserve(counting, session_id, child, headers)
    assert reserved.status_code == 201, reserved.text
    assert statements(reserved) == 3  # the session lookup, the read, the reservation with its key
    ref = f"/v1/childcare/reservations/{reserved.json()['id']}"
    await assert_key_written_by_command(db, headers["Idempotency-Key"], status=201, ref=ref)


async def test_concurrent_duplicates_reserve_once_and_all_get_the_reservation(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(10)
    session_id = await session(http, nursery, day)
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(day, 3), approve_at=nursery)
    headers = keyed(parent)
    answers = await asyncio.gather(*(reserve(http, session_id, child, headers) for _ in range(10)))
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers if a.status_code != 201]
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 9
    assert await db.fetchval("SELECT count(*) FROM childcare_reservations WHERE child_id = $1", child) == 1
    assert (
        await db.fetchval("SELECT used FROM childcare_places WHERE session_id = $1 AND band = '3-5'", session_id) == 1
    )


async def test_a_retry_gets_the_reservation_as_it_is_now_and_another_body_is_refused(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(11)
    session_id, other_session = await session(http, nursery, day), await session(http, nursery, day, "afternoon")
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
    headers = keyed(parent)
    reserved = await reserve(http, session_id, child, headers)
    assert reserved.status_code == 201, reserved.text
    cancel = await http.post(f"/v1/childcare/reservations/{reserved.json()['id']}/cancel", headers=parent.headers)
    assert cancel.status_code == 200, cancel.text

    again = await reserve(http, session_id, child, headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**reserved.json(), "status": "cancelled"}
    assert_problem(await reserve(http, other_session, child, headers), 422, "idempotency-key-reused")
    assert await db.fetchval("SELECT count(*) FROM childcare_reservations WHERE child_id = $1", child) == 1


async def one_place_taken(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, day: date
) -> tuple[int, Actor, httpx.Response, Actor, int]:
    """A session with one place for 3–5 year-olds, taken by a first parent's child; a second parent
    whose child is approved there too: (session, first parent, the reservation, second parent, child)."""
    session_id = await session(http, nursery, day, three_five=1)
    first, second = await actors.resident(), await actors.resident()
    first_child = await child_of(http, first, years_before(day, 4), approve_at=nursery)
    second_child = await child_of(http, second, years_before(day, 4), approve_at=nursery)
    taken = await reserve(http, session_id, first_child, first.headers)
    assert taken.status_code == 201, taken.text
    return session_id, first, taken, second, second_child


async def test_a_refusal_is_replayed_even_once_a_place_is_free(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    session_id, first, taken, second, second_child = await one_place_taken(http, actors, nursery, in_days(12))
    headers = keyed(second)
    assert_problem(await reserve(http, session_id, second_child, headers), 409, "full")
    cancel = await http.post(f"/v1/childcare/reservations/{taken.json()['id']}/cancel", headers=first.headers)
    assert cancel.status_code == 200, cancel.text

    again = await reserve(http, session_id, second_child, headers)
    assert_problem(again, 409, "full")
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM childcare_reservations WHERE child_id = $1", second_child) == 0


async def test_taking_a_held_place_writes_its_key_in_the_transaction(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    session_id, holder, first, waiter, waiter_child = await one_place_taken(http, actors, nursery, in_days(13))
    joined = await http.post(
        "/v1/childcare/waitlist", json={"sessionId": session_id, "childId": waiter_child}, headers=waiter.headers
    )
    assert joined.status_code == 201, joined.text
    cancel = await http.post(f"/v1/childcare/reservations/{first.json()['id']}/cancel", headers=holder.headers)
    assert cancel.status_code == 200, cancel.text  # the place is now held for the waiter's child

    headers = keyed(waiter)
    taken = await reserve(http, session_id, waiter_child, headers)
    assert taken.status_code == 201, taken.text
    assert taken.json()["status"] == "reserved"
    again = await reserve(http, session_id, waiter_child, headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == taken.json()
    ref = await db.fetchval("SELECT response_ref FROM idempotency_keys WHERE key = $1", headers["Idempotency-Key"])
    assert ref == f"/v1/childcare/reservations/{taken.json()['id']}"
    # The hold was taken (the transactional path, which books the waitlist entry), not a new place.
    waitlist = await db.fetchval("SELECT status FROM childcare_waitlist WHERE child_id = $1", waiter_child)
    assert waitlist == "booked"
    assert taken.json()["id"] == await db.fetchval(
        "SELECT reservation_id FROM childcare_waitlist WHERE child_id = $1", waiter_child
    )


async def test_a_reservation_is_read_by_the_parent_only(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery
) -> None:
    day = in_days(14)
    session_id = await session(http, nursery, day)
    parent, stranger = await actors.resident(), await actors.resident()
    child = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
    reserved = await reserve(http, session_id, child, parent.headers)
    assert reserved.status_code == 201, reserved.text
    path = f"/v1/childcare/reservations/{reserved.json()['id']}"

    shown = await http.get(path, headers=parent.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json() == reserved.json()
    # The nursery's staff see the child on the roster, where each view is audited; not here.
    for outsider in (stranger, nursery.staff):
        assert_problem(await http.get(path, headers=outsider.headers), 404)
    assert_problem(await http.get("/v1/childcare/reservations/999999999", headers=parent.headers), 404)
