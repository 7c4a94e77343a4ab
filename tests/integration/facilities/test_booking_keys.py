"""A booking writes its Idempotency-Key in its own statement (issue 16, backend/core/command_keys.py):
the key and the booking commit together or not at all, and a retry gets the booking as it is now
(re-read through GET /v1/bookings/{id}, as the booker). What the middleware promised for every key
still holds: one booking however many duplicates race, the same answer to a retry, 422 for the key
with another body, refusals replayed too."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import Actors, assert_key_written_by_command, assert_problem


async def test_the_booking_and_its_key_are_written_together(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    key = str(uuid.uuid4())
    booked = await http.post("/v1/bookings", json=venue.slot(3, 9), headers={**person.headers, "Idempotency-Key": key})
    assert booked.status_code == 201, booked.text
    await assert_key_written_by_command(db, key, status=201, ref=f"/v1/bookings/{booked.json()['id']}")


async def test_concurrent_duplicates_book_once_and_all_get_the_booking(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(
        *(http.post("/v1/bookings", json=venue.slot(3, 10), headers=headers) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 19
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", person.account_id) == 1


async def test_a_retry_gets_the_booking_as_it_is_now(http: httpx.AsyncClient, actors: Actors, venue: Venue) -> None:
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    booked = await http.post("/v1/bookings", json=venue.slot(4, 9), headers=headers)
    assert booked.status_code == 201, booked.text
    cancelled = await http.post(f"/v1/bookings/{booked.json()['id']}/cancel", json={}, headers=person.headers)
    assert cancelled.status_code == 200, cancelled.text
    again = await http.post("/v1/bookings", json=venue.slot(4, 9), headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**booked.json(), "status": "cancelled"}


async def test_the_key_with_another_body_is_refused_and_books_nothing(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    assert (await http.post("/v1/bookings", json=venue.slot(4, 11), headers=headers)).status_code == 201
    assert_problem(
        await http.post("/v1/bookings", json=venue.slot(4, 12), headers=headers), 422, "idempotency-key-reused"
    )
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", person.account_id) == 1


async def test_a_refusal_is_replayed_even_once_the_slot_is_free(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    first, second = await actors.resident(), await actors.resident()
    taken = await http.post("/v1/bookings", json=venue.slot(5, 9), headers=first.headers)
    assert taken.status_code == 201, taken.text
    headers = {**second.headers, "Idempotency-Key": str(uuid.uuid4())}
    assert_problem(await http.post("/v1/bookings", json=venue.slot(5, 9), headers=headers), 409, "slot-taken")
    cancelled = await http.post(f"/v1/bookings/{taken.json()['id']}/cancel", json={}, headers=first.headers)
    assert cancelled.status_code == 200, cancelled.text
    again = await http.post("/v1/bookings", json=venue.slot(5, 9), headers=headers)
    assert_problem(again, 409, "slot-taken")
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", second.account_id) == 0


async def test_a_booking_by_the_transactional_path_writes_its_key_too(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    # A claimed reduction is booked in a transaction (its checks read afresh), not by book_slot.
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {**venue.slot(5, 11), "reduction": "child"}
    booked = await http.post("/v1/bookings", json=body, headers=headers)
    assert booked.status_code == 201, booked.text
    again = await http.post("/v1/bookings", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == booked.json()
    ref = await db.fetchval("SELECT response_ref FROM idempotency_keys WHERE key = $1", headers["Idempotency-Key"])
    assert ref == f"/v1/bookings/{booked.json()['id']}"
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", person.account_id) == 1


async def test_a_duplicate_on_the_transactional_path_is_undone_and_replayed(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    # Booked with a reduction (the transaction), cancelled, then the same request again: the slot is
    # free, so the retry books in a transaction whose key row fails on the key, and is undone.
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {**venue.slot(5, 15), "reduction": "child"}
    booked = await http.post("/v1/bookings", json=body, headers=headers)
    assert booked.status_code == 201, booked.text
    cancelled = await http.post(f"/v1/bookings/{booked.json()['id']}/cancel", json={}, headers=person.headers)
    assert cancelled.status_code == 200, cancelled.text
    again = await http.post("/v1/bookings", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**booked.json(), "status": "cancelled"}
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", person.account_id) == 1


async def test_a_kept_caller_signed_out_gets_401_not_the_stored_answer(
    counting: httpx.AsyncClient, http: httpx.AsyncClient, actors: Actors, venue: Venue
) -> None:
    # Refused before the booking's statement (22:00 is after closing), so the retry's refusal meets the
    # stored one, which a caller signed out since must not be sent.
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    late = venue.slot(6, 22)
    assert_problem(await counting.post("/v1/bookings", json=late, headers=headers), 422)
    # Signed out through the other API: the counting API still keeps this caller for a few seconds.
    assert (await http.delete("/v1/sessions/current", headers=person.headers)).status_code == 204
    assert_problem(await counting.post("/v1/bookings", json=late, headers=headers), 401)


# Keys a request left behind, as rows: its first request died between claim and answer (a process
# killed; its lease ran out), or its answer is past the time to live.
LEFT_BEHIND = {
    "lease-ran-out": "INSERT INTO idempotency_keys (principal, key, request_hash, locked_until, created_at)"
    " VALUES ($1, $2, '\\x00', now() - interval '1 minute', now() - interval '2 minutes')",
    "past-its-ttl": "INSERT INTO idempotency_keys (principal, key, request_hash, response_status, response_headers,"
    " response_ref, created_at) VALUES ($1, $2, '\\x00', 201, '[]', '/v1/bookings/1', now() - interval '30 days')",
}


@pytest.mark.parametrize("left", LEFT_BEHIND.values(), ids=LEFT_BEHIND.keys())
async def test_a_key_left_behind_is_written_again_by_the_booking(
    left: str, http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    key = str(uuid.uuid4())
    await db.execute(left, f"account:{person.account_id}", key)
    booked = await http.post("/v1/bookings", json=venue.slot(6, 15), headers={**person.headers, "Idempotency-Key": key})
    assert booked.status_code == 201, booked.text
    assert "idempotent-replayed" not in booked.headers
    ref = await db.fetchval("SELECT response_ref FROM idempotency_keys WHERE key = $1", key)
    assert ref == f"/v1/bookings/{booked.json()['id']}"
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", person.account_id) == 1


async def test_a_booking_is_read_by_its_booker_and_the_facility_staff_only(
    http: httpx.AsyncClient, actors: Actors, venue: Venue
) -> None:
    person, stranger = await actors.resident(), await actors.resident()
    booked = await http.post("/v1/bookings", json=venue.slot(6, 9), headers=person.headers)
    assert booked.status_code == 201, booked.text
    path = f"/v1/bookings/{booked.json()['id']}"
    mine = await http.get(path, headers=person.headers)
    assert mine.status_code == 200
    assert mine.json() == booked.json()
    assert (await http.get(path, headers=venue.staff.headers)).json() == booked.json()
    assert_problem(await http.get(path, headers=stranger.headers), 404)
    assert (await http.get(path, headers=(await actors.prefecture_admin()).headers)).json() == booked.json()
    elsewhere = await make_venue(http, actors)  # staff of another municipality's facility
    assert_problem(await http.get(path, headers=elsewhere.staff.headers), 404)
    assert_problem(await http.get("/v1/bookings/999999999", headers=person.headers), 404)
    assert_problem(await http.get(path), 401)
