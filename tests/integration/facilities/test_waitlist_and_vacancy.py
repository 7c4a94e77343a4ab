from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import asyncpg
import httpx

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.facilities.service import FacilityService
from backend.facilities.slots import TOKYO
from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import Actor, Actors, assert_problem


async def offers(db: asyncpg.Pool, person: Actor) -> list[dict[str, object]]:
    rows = await db.fetch(
        "SELECT payload FROM outbox WHERE topic = $1 AND type = 'waitlist.offered' ORDER BY id",
        f"user:{person.account_id}",
    )
    return [json.loads(r["payload"]) for r in rows]


async def test_waitlist_hand_over_follows_the_queue_and_the_clock(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue, db: asyncpg.Pool, clock: MovableClock, ctx: AppContext
) -> None:
    holder, first, second, walk_in = [await actors.resident() for _ in range(4)]
    slot = free_venue.slot(5, 14)
    booking = (await http.post("/v1/bookings", json=slot, headers=holder.headers)).json()
    for waiter in (first, second):
        joined = await http.post("/v1/waitlist", json=slot, headers=waiter.headers)
        assert joined.status_code == 201, joined.text
        assert joined.json()["status"] == "waiting"
    assert_problem(await http.post("/v1/waitlist", json=slot, headers=first.headers), 409, "already-waiting")

    await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=holder.headers)
    [offer] = await offers(db, first)
    assert await offers(db, second) == []
    vacancies = await http.get(
        "/v1/vacancies", params={"date": str(free_venue.day(5)), "facilityId": free_venue.facility_id}
    )
    slot_start = datetime.fromisoformat(slot["start"])
    assert [v["state"] for v in vacancies.json() if datetime.fromisoformat(v["start"]) == slot_start] == ["held"]

    # The hold is honoured against everyone else, including the next waiter.
    assert_problem(await http.post("/v1/bookings", json=slot, headers=walk_in.headers), 409, "slot-taken")
    assert_problem(await http.post("/v1/bookings", json=slot, headers=second.headers), 409, "slot-taken")

    # Not taken in time: the hold passes to the next waiter.
    clock.advance(timedelta(minutes=31))
    assert await FacilityService(ctx).release_expired() == 1
    [offer_two] = await offers(db, second)
    assert offer_two["bookingId"] != offer["bookingId"]
    second = await actors.login(second.email, second.account_id)
    taken = await http.post("/v1/bookings", json=slot, headers=second.headers)
    assert taken.status_code == 201, taken.text
    assert taken.json()["id"] == offer_two["bookingId"]  # one tap turns the hold into the booking
    assert taken.json()["status"] == "confirmed"
    statuses = {r["account_id"]: r["status"] for r in await db.fetch("SELECT account_id, status FROM waitlist_entries")}
    assert statuses == {first.account_id: "expired", second.account_id: "booked"}
    trail = [(r["actor_account_id"], r["action"]) for r in await db.fetch("SELECT * FROM audit ORDER BY id")]
    assert trail == [
        (holder.account_id, "booking.create"),
        (holder.account_id, "booking.cancel"),
        (None, "booking.hold_for_waiter"),
        (None, "booking.release"),
        (None, "booking.hold_for_waiter"),
        (second.account_id, "booking.create"),
    ]


async def test_waiter_on_a_free_slot_is_told_to_book(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue
) -> None:
    person = await actors.resident()
    assert_problem(
        await http.post("/v1/waitlist", json=free_venue.slot(5, 9), headers=person.headers), 409, "slot-free"
    )


async def test_vacancies_follow_tokyo_day_boundaries(http: httpx.AsyncClient, actors: Actors) -> None:
    # Opens at 06:00 JST, which is 21:00 UTC of the previous day.
    early = await make_venue(
        http, actors, opensAt="06:00:00", closesAt="12:00:00", feePerUnit=0, nonResidentFeePerUnit=None
    )
    person = await actors.resident()
    booked = await http.post("/v1/bookings", json=early.slot(4, 6), headers=person.headers)
    assert booked.status_code == 201
    day = early.day(4)
    units = (await http.get("/v1/vacancies", params={"date": str(day), "facilityId": early.facility_id})).json()
    starts = [datetime.fromisoformat(u["start"]) for u in units]
    assert starts[0] == datetime.combine(day, time(6), TOKYO)
    assert starts[0].astimezone(UTC).date() == day - timedelta(days=1)
    assert len(units) == 6
    assert [u["state"] for u in units] == ["booked", "free", "free", "free", "free", "free"]
    previous_day = (
        await http.get("/v1/vacancies", params={"date": str(day - timedelta(days=1)), "facilityId": early.facility_id})
    ).json()
    assert {u["state"] for u in previous_day} == {"free"}


async def test_vacancies_around_existing_bookings(http: httpx.AsyncClient, actors: Actors, free_venue: Venue) -> None:
    person = await actors.resident()
    assert (
        await http.post("/v1/bookings", json=free_venue.slot(6, 10, units=2), headers=person.headers)
    ).status_code == 201
    units = (
        await http.get("/v1/vacancies", params={"date": str(free_venue.day(6)), "facilityId": free_venue.facility_id})
    ).json()
    by_hour = {datetime.fromisoformat(u["start"]).astimezone(TOKYO).hour: u["state"] for u in units}
    assert by_hour == {h: ("booked" if h in (10, 11) else "free") for h in range(9, 21)}


async def test_vacancy_search_filters_and_pages(http: httpx.AsyncClient, actors: Actors) -> None:
    venues = [await make_venue(http, actors) for _ in range(3)]
    day = str(venues[0].day(3))
    first = await http.get("/v1/vacancies", params={"date": day, "kind": "gym", "municipalityId": 1, "limit": 2})
    assert first.status_code == 200
    assert {u["resourceId"] for u in first.json()} == {venues[0].resource_id, venues[1].resource_id}
    following = await http.get(first.headers["link"].split(";")[0].strip("<>"))
    assert {u["resourceId"] for u in following.json()} == {venues[2].resource_id}
    assert (await http.get("/v1/vacancies", params={"date": day, "kind": "pool"})).json() == []
    assert_problem(await http.get("/v1/vacancies", params={"date": "2026-02-30"}), 400)
    assert_problem(await http.get("/v1/vacancies"), 400)


async def test_only_the_owners_staff_manage_a_facility(http: httpx.AsyncClient, actors: Actors, venue: Venue) -> None:
    other_town = await actors.member("municipality", "staff")
    resident = await actors.resident()
    body = {
        "name": "X",
        "unitMinutes": 60,
        "opensAt": "09:00:00",
        "closesAt": "17:00:00",
        "feePerUnit": 0,
        "cancelDeadlineHours": 0,
    }
    url = f"/v1/facilities/{venue.facility_id}/resources"
    assert_problem(await http.post(url, json=body, headers=other_town.headers), 404)
    assert_problem(await http.post(url, json=body, headers=resident.headers), 403)
    assert (await http.post(url, json=body, headers=venue.staff.headers)).status_code == 201
    uneven = {**body, "unitMinutes": 90}
    assert (
        assert_problem(await http.post(url, json=uneven, headers=venue.staff.headers), 422)["errors"][0]["field"]
        == "$.closesAt"
    )
    detail = (await http.get(f"/v1/facilities/{venue.facility_id}")).json()
    assert len(detail["resources"]) == 2
    assert detail["resources"][0]["reductions"] == {"disability": 100, "child": 50}


async def test_hospital_cannot_own_a_facility(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    nurse = await actors.member("hospital", "admin", hospital)
    response = await http.post(
        "/v1/facilities",
        json={"organizationId": hospital, "name": "X", "kind": "gym", "address": "X", "lat": 36.0, "lon": 140.0},
        headers=nurse.headers,
    )
    assert_problem(response, 403)
