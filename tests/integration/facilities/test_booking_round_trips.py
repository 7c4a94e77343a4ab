"""A booking is judged in a rush by its round trips to PostgreSQL (issue 16): the booking itself,
whose checks book_slot makes on the resource's terms and on the caller as the process keeps them
(the session lookup is a second round trip only for a token the process has not seen lately); an
Idempotency-Key is written by the booking's own statement (backend/core/command_keys.py), and a
refusal's answer is kept in one more.
Counted by the API itself (MUSUBI_COUNT_STATEMENTS, as bench/booking.py runs it): every statement
asyncpg sends, BEGIN and COMMIT included.

What a process keeps never decides alone: a resource changed since is re-read before anything is
refused or written on its old terms, and a caller signed out, unverified or resident elsewhere since
is read again before anything is written for them."""

from __future__ import annotations

import httpx

from tests.integration.facilities.conftest import Venue
from tests.support import PASSWORD, Actors, statements


async def test_a_booking_costs_one_round_trip_with_or_without_an_idempotency_key(
    counting: httpx.AsyncClient, actors: Actors, free_venue: Venue, venue: Venue
) -> None:
    http = counting
    person = await actors.resident()
    # Once, so each statement is prepared on the connections and each resource's terms are known to
    # the process (a pool's and a process's cost, not a booking's).
    for hour in (9, 10, 11):
        for place in (free_venue, venue):
            warm = await http.post("/v1/bookings", json=place.slot(3, hour), headers=person.headers)
            assert warm.status_code == 201, warm.text
        keyed = {**person.headers, "Idempotency-Key": f"warm-{hour}"}
        warm = await http.post("/v1/bookings", json=free_venue.slot(4, hour), headers=keyed)
        assert warm.status_code == 201, warm.text
        keyed = {**person.headers, "Idempotency-Key": f"warm-refused-{hour}"}
        warm = await http.post("/v1/bookings", json=free_venue.slot(4, hour), headers=keyed)
        assert warm.status_code == 409, warm.text

    free = await http.post("/v1/bookings", json=free_venue.slot(5, 9), headers=person.headers)
    assert free.status_code == 201, free.text
    assert statements(free) == 1

    paid = await http.post("/v1/bookings", json=venue.slot(5, 9), headers=person.headers)
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "provisional"
    assert statements(paid) == 1

    # A token this process has not seen: its session is looked up first.
    again = await actors.login(person.email, person.account_id)
    newcomer = await http.post("/v1/bookings", json=free_venue.slot(5, 11), headers=again.headers)
    assert newcomer.status_code == 201, newcomer.text
    assert statements(newcomer) == 2

    keyed = {**person.headers, "Idempotency-Key": "round-trips-1"}
    with_key = await http.post("/v1/bookings", json=free_venue.slot(5, 10), headers=keyed)
    assert with_key.status_code == 201, with_key.text
    assert statements(with_key) == 1

    # Refused (the slot is the one just booked): the refusal is kept for the key's retries.
    refused = await http.post(
        "/v1/bookings", json=free_venue.slot(5, 10), headers={**person.headers, "Idempotency-Key": "round-trips-2"}
    )
    assert refused.status_code == 409, refused.text
    assert statements(refused) == 2

    replay = await http.post("/v1/bookings", json=free_venue.slot(5, 10), headers=keyed)
    assert replay.status_code == 201
    assert replay.json() == with_key.json()


async def test_a_resource_changed_after_a_booking_is_booked_on_its_new_terms(
    counting: httpx.AsyncClient, actors: Actors, venue: Venue
) -> None:
    http = counting
    person = await actors.resident()
    first = await http.post("/v1/bookings", json=venue.slot(3, 9), headers=person.headers)
    assert first.status_code == 201, first.text
    assert first.json()["fee"] == 1500  # the non-resident rate: this resident's residency is not verified

    # Staff open earlier and change the rates while this API keeps the terms it booked with.
    edited = await http.patch(
        f"/v1/resources/{venue.resource_id}",
        json={"opensAt": "07:00:00", "feePerUnit": 800, "nonResidentFeePerUnit": 1200},
        headers=venue.staff.headers,
    )
    assert edited.status_code == 200, edited.text
    early = await http.post("/v1/bookings", json=venue.slot(3, 7), headers=person.headers)
    assert early.status_code == 201, early.text  # not refused on the old opening hours
    assert early.json()["fee"] == 1200  # not priced on the old rate
    later = await http.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)
    assert later.json()["fee"] == 1200
    assert statements(later) == 1  # the new terms are kept in turn

    # Closing hours shrink: refused, on the terms read afresh, and nothing written.
    shrunk = await http.patch(
        f"/v1/resources/{venue.resource_id}", json={"closesAt": "12:00:00"}, headers=venue.staff.headers
    )
    assert shrunk.status_code == 200, shrunk.text
    late = await http.post("/v1/bookings", json=venue.slot(3, 15), headers=person.headers)
    assert late.status_code == 422, late.text
    mine = await http.get("/v1/me/bookings", headers=person.headers)
    assert mine.status_code == 200, mine.text
    assert len(mine.json()) == 3


async def test_a_kept_caller_is_checked_again_before_anything_is_booked_for_them(
    counting: httpx.AsyncClient, http: httpx.AsyncClient, actors: Actors, venue: Venue
) -> None:
    person = await actors.resident()
    first = await counting.post("/v1/bookings", json=venue.slot(3, 9), headers=person.headers)
    assert first.status_code == 201, first.text
    assert first.json()["fee"] == 1500  # the non-resident rate: the counting API now keeps this caller

    # Resident now (verified at the counter): the next booking is priced at the resident rate.
    await actors.lives_in(person, venue.municipality_id)
    resident = await counting.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)
    assert resident.status_code == 201, resident.text
    assert resident.json()["fee"] == 1000

    # Another address, not yet verified (changed through the other API): booking needs it verified.
    moved = await http.put(
        "/v1/me/email", json={"email": f"moved.{person.email}", "currentPassword": PASSWORD}, headers=person.headers
    )
    assert moved.status_code == 200, moved.text
    keyed = {**person.headers, "Idempotency-Key": "kept-caller-refused"}
    unverified = await counting.post("/v1/bookings", json=venue.slot(3, 11), headers=keyed)
    assert unverified.status_code == 403, unverified.text
    assert unverified.json()["type"].endswith("email-not-verified")

    # Verified again: the same key books, since a caller refused claims no key.
    await actors.verify(person.account_id)
    verified = await counting.post("/v1/bookings", json=venue.slot(3, 11), headers=keyed)
    assert verified.status_code == 201, verified.text
    assert "idempotent-replayed" not in verified.headers

    # Signed out (through the other API): the token books nothing more.
    signed_out = await http.delete("/v1/sessions/current", headers=person.headers)
    assert signed_out.status_code == 204, signed_out.text
    refused = await counting.post("/v1/bookings", json=venue.slot(3, 12), headers=person.headers)
    assert refused.status_code == 401, refused.text

    booked = await actors.db.fetchval("SELECT count(*) FROM bookings WHERE account_id = $1", person.account_id)
    assert booked == 3
