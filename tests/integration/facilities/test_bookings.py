from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest
from icalendar import Calendar

from backend.core.clock import MovableClock
from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import Actors, assert_problem


async def test_200_concurrent_requests_for_same_slot_give_exactly_one_booking(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue, db: asyncpg.Pool
) -> None:
    crowd = await actors.many_residents(200)
    body = free_venue.slot(3, 10)
    responses = await asyncio.gather(*(http.post("/v1/bookings", json=body, headers=p.headers) for p in crowd))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1
    assert statuses.count(409) == 199
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "slot-taken")
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1


async def test_overlapping_partial_range_is_refused_and_adjacent_allowed(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue
) -> None:
    one, two = await actors.resident(), await actors.resident()
    assert (
        await http.post("/v1/bookings", json=free_venue.slot(3, 10, units=2), headers=one.headers)
    ).status_code == 201
    overlapping = await http.post("/v1/bookings", json=free_venue.slot(3, 11, units=2), headers=two.headers)
    assert_problem(overlapping, 409, "slot-taken")
    before = await http.post("/v1/bookings", json=free_venue.slot(3, 9), headers=two.headers)
    after = await http.post("/v1/bookings", json=free_venue.slot(3, 12), headers=two.headers)
    assert before.status_code == after.status_code == 201


async def test_idempotent_retry_returns_the_same_booking(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    headers = {**person.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await http.post("/v1/bookings", json=venue.slot(4, 15), headers=headers)
    again = await http.post("/v1/bookings", json=venue.slot(4, 15), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1


async def test_fees_residents_non_residents_and_reductions(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    resident, visitor = await actors.resident(), await actors.resident()
    await actors.lives_in(resident, 1)
    await actors.lives_in(visitor, 2)
    home = (await http.post("/v1/bookings", json=venue.slot(5, 9, units=2), headers=resident.headers)).json()
    away = (await http.post("/v1/bookings", json=venue.slot(5, 11, units=2), headers=visitor.headers)).json()
    child = (
        await http.post(
            "/v1/bookings", json={**venue.slot(5, 13, units=2), "reduction": "child"}, headers=resident.headers
        )
    ).json()
    exempt = (
        await http.post("/v1/bookings", json={**venue.slot(5, 15), "reduction": "disability"}, headers=visitor.headers)
    ).json()
    assert (home["fee"], away["fee"], child["fee"], exempt["fee"]) == (2000, 3000, 1000, 0)
    assert home["status"] == away["status"] == "provisional"
    assert home["payBy"] is not None
    assert exempt["status"] == "provisional"  # until staff approve the reduction
    unknown = await http.post("/v1/bookings", json={**venue.slot(5, 17), "reduction": "vip"}, headers=visitor.headers)
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "$.reduction"


async def test_reduction_stays_provisional_until_facility_staff_approve_it(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person, stranger = await actors.resident(), await actors.resident()
    exempt = await http.post(
        "/v1/bookings", json={**venue.slot(5, 15), "reduction": "disability"}, headers=person.headers
    )
    assert exempt.status_code == 201, exempt.text
    booking = exempt.json()
    assert (booking["fee"], booking["status"], booking["reductionApprovedAt"]) == (0, "provisional", None)
    assert booking["payBy"] is not None  # released like any unpaid booking if nobody approves in time

    # Neither the resident nor a payment can skip the check, and the database refuses it too.
    approval = f"/v1/bookings/{booking['id']}/reduction-approval"
    confirm = await http.post(f"/v1/bookings/{booking['id']}/confirm", headers=person.headers)
    assert_problem(confirm, 409, "reduction-not-approved")
    paid = await http.post(f"/v1/bookings/{booking['id']}/payment", headers=venue.staff.headers)
    assert_problem(paid, 409, "reduction-not-approved")
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE bookings SET status = 'confirmed' WHERE id = $1", booking["id"])
    assert_problem(await http.post(approval, headers=person.headers), 403)
    assert_problem(await http.post(approval, headers=stranger.headers), 403)

    approved = await http.post(approval, headers=venue.staff.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "confirmed"
    assert approved.json()["reductionApprovedAt"] is not None
    assert approved.json()["payBy"] is None
    assert_problem(await http.post(approval, headers=venue.staff.headers), 409, "reduction-approved")
    audit = await db.fetch("SELECT actor_account_id, reason FROM audit WHERE action = 'booking.approve_reduction'")
    assert [(a["actor_account_id"], a["reason"]) for a in audit] == [(venue.staff.account_id, "disability")]

    # A partial reduction, once approved, still waits for payment.
    child = (
        await http.post("/v1/bookings", json={**venue.slot(6, 10), "reduction": "child"}, headers=person.headers)
    ).json()
    approved = await http.post(f"/v1/bookings/{child['id']}/reduction-approval", headers=venue.staff.headers)
    assert (approved.json()["status"], approved.json()["fee"]) == ("provisional", 750)  # half the visitor rate
    paid = await http.post(f"/v1/bookings/{child['id']}/payment", headers=venue.staff.headers)
    assert paid.json()["status"] == "confirmed"

    # Without a reduction there is nothing to approve.
    plain = (await http.post("/v1/bookings", json=venue.slot(6, 12), headers=person.headers)).json()
    refused = await http.post(f"/v1/bookings/{plain['id']}/reduction-approval", headers=venue.staff.headers)
    assert_problem(refused, 409, "no-reduction")


async def test_pay_at_counter_is_confirmed_at_once(http: httpx.AsyncClient, actors: Actors) -> None:
    counter = await make_venue(http, actors, payAtCounter=True)
    person = await actors.resident()
    booking = await http.post("/v1/bookings", json=counter.slot(3, 10), headers=person.headers)
    assert booking.json()["status"] == "confirmed"
    assert booking.json()["fee"] == 1500


async def test_staff_record_payment(http: httpx.AsyncClient, actors: Actors, venue: Venue) -> None:
    person = await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)).json()
    paid = await http.post(f"/v1/bookings/{booking['id']}/payment", headers=venue.staff.headers)
    assert paid.status_code == 200
    assert paid.json()["status"] == "confirmed"
    assert_problem(await http.post(f"/v1/bookings/{booking['id']}/payment", headers=venue.staff.headers), 409)


async def test_slot_rules_give_422_with_fields(http: httpx.AsyncClient, actors: Actors, venue: Venue) -> None:
    person = await actors.resident()
    cases = {
        "misaligned": venue.slot(3, 10, minute=30),
        "before opening": venue.slot(3, 8),
        "after closing": venue.slot(3, 20, units=2),
        "in the past": venue.slot(-1, 10),
        "too long": venue.slot(3, 9, units=9),
    }
    for label, body in cases.items():
        response = await http.post("/v1/bookings", json=body, headers=person.headers)
        problem = assert_problem(response, 422)
        assert problem["errors"], label
    reversed_body = {**venue.slot(3, 10), "end": venue.slot(3, 9)["start"]}
    assert (
        assert_problem(await http.post("/v1/bookings", json=reversed_body, headers=person.headers), 422)["errors"][0][
            "field"
        ]
        == "$.end"
    )
    naive = {**venue.slot(3, 10), "start": "2030-01-01T10:00:00", "end": "2030-01-01T11:00:00"}
    assert_problem(await http.post("/v1/bookings", json=naive, headers=person.headers), 422)
    missing = {**venue.slot(3, 10), "resourceId": 987654}
    assert_problem(await http.post("/v1/bookings", json=missing, headers=person.headers), 422, "unknown-reference")


async def test_opening_hours_are_accepted_as_typed_with_or_without_seconds(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    short = await make_venue(http, actors, opensAt="09:00", closesAt="21:30", unitMinutes=30)
    response = await http.get(f"/v1/facilities/{short.facility_id}")
    resource = next(r for r in response.json()["resources"] if r["id"] == short.resource_id)
    assert (resource["opensAt"], resource["closesAt"]) == ("09:00:00", "21:30:00")
    await make_venue(http, actors, opensAt="09:00:00", closesAt="21:00")
    facility = (await http.get(f"/v1/facilities/{short.facility_id}")).json()
    for wrong in ("9:00", "24:00", "09:60", "09:00:00.5", "0900", "09:00Z"):
        refused = await http.post(
            f"/v1/facilities/{facility['id']}/resources",
            json={"name": "x", "unitMinutes": 60, "opensAt": wrong, "closesAt": "21:00",
                  "feePerUnit": 0, "cancelDeadlineHours": 1},
            headers=short.staff.headers,
        )  # fmt: skip
        assert assert_problem(refused, 422)["errors"][0]["field"] == "$.opensAt", wrong


async def test_monthly_cap_holds_under_concurrency(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    capped = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None, maxBookingsPerMonth=3)
    person = await actors.resident()
    # Ten slots on one day, so all fall in the same month.
    bodies = [capped.slot(2, hour) for hour in range(9, 19)]
    if len({b["start"][:7] for b in bodies}) != 1:  # pragma: no cover - never on one day
        raise AssertionError("slots span two months")
    responses = await asyncio.gather(*(http.post("/v1/bookings", json=b, headers=person.headers) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 7, responses[0].text
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'confirmed'") == 3


async def test_lottery_only_resource_refuses_first_come_booking(http: httpx.AsyncClient, actors: Actors) -> None:
    lottery = await make_venue(http, actors, lotteryOnly=True)
    person = await actors.resident()
    assert_problem(
        await http.post("/v1/bookings", json=lottery.slot(3, 10), headers=person.headers), 409, "lottery-only"
    )


async def test_cancellation_deadline_and_ownership(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, clock: MovableClock
) -> None:
    owner, stranger = await actors.resident(), await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(2, 10), headers=owner.headers)).json()
    assert_problem(await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=stranger.headers), 404)
    # Now 23 h before the start (within the 24 h deadline), whatever the time of day the test runs at.
    clock.advance_to(datetime.fromisoformat(booking["start"]) - timedelta(hours=23))
    owner = await actors.login(owner.email, owner.account_id)  # the old session expired meanwhile
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    late = await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=owner.headers)
    assert_problem(late, 409, "cancel-deadline-passed")
    # Staff may still cancel, with a reason.
    no_reason = await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=staff.headers)
    assert assert_problem(no_reason, 422)["errors"][0]["field"] == "$.reason"
    by_staff = await http.post(
        f"/v1/bookings/{booking['id']}/cancel", json={"reason": "体育館の設備点検"}, headers=staff.headers
    )
    assert by_staff.status_code == 200
    assert by_staff.json()["status"] == "cancelled"
    assert_problem(await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=staff.headers), 409)


async def test_cancel_in_time_frees_the_slot_and_is_audited(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    owner, next_person = await actors.resident(), await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=owner.headers)).json()
    cancelled = await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=owner.headers)
    assert cancelled.status_code == 200
    assert (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=next_person.headers)).status_code == 201
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit ORDER BY id")]
    assert actions == ["booking.create", "booking.cancel", "booking.create"]


async def test_unpaid_provisional_booking_is_released_and_slot_frees(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, clock: MovableClock, ctx: object
) -> None:
    from backend.facilities.service import FacilityService

    person, later = await actors.resident(), await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(10, 10), headers=person.headers)).json()
    assert booking["status"] == "provisional"
    vacancies = await http.get("/v1/vacancies", params={"date": str(venue.day(10)), "facilityId": venue.facility_id})
    assert [v["state"] for v in vacancies.json() if v["start"] == booking["start"]] == ["booked"]

    clock.advance(timedelta(hours=73))
    person = await actors.login(person.email, person.account_id)  # sessions expired meanwhile
    later = await actors.login(later.email, later.account_id)
    assert await FacilityService(ctx).release_expired() == 1  # type: ignore[arg-type]
    vacancies = await http.get("/v1/vacancies", params={"date": str(venue.day(10)), "facilityId": venue.facility_id})
    assert [v["state"] for v in vacancies.json() if v["start"] == booking["start"]] == ["free"]
    mine = await http.get("/v1/me/bookings", params={"includeEnded": "true"}, headers=person.headers)
    assert [b["status"] for b in mine.json()] == ["released"]
    assert (await http.post("/v1/bookings", json=venue.slot(10, 10), headers=later.headers)).status_code == 201


async def test_expired_provisional_booking_frees_even_before_the_sweep(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, clock: MovableClock
) -> None:
    person, later = await actors.resident(), await actors.resident()
    await http.post("/v1/bookings", json=venue.slot(10, 10), headers=person.headers)
    clock.advance(timedelta(hours=73))
    later = await actors.login(later.email, later.account_id)
    assert (await http.post("/v1/bookings", json=venue.slot(10, 10), headers=later.headers)).status_code == 201


async def test_booking_events_go_to_the_booker_and_the_facility_board(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)).json()
    events = [
        (r["topic"], r["type"], json.loads(r["payload"])) for r in await db.fetch("SELECT * FROM outbox ORDER BY id")
    ]
    assert events == [
        (
            f"user:{person.account_id}",
            "booking.created",
            {"type": "booking.created", "bookingId": booking["id"], "resourceId": venue.resource_id},
        ),
        (
            f"vacancy:facility:{venue.facility_id}",
            "vacancy.changed",
            {
                "type": "vacancy.changed",
                "facilityId": venue.facility_id,
                "resourceId": venue.resource_id,
                "date": str(venue.day(3)),
            },
        ),
    ]


async def test_my_bookings_pages_in_start_order(http: httpx.AsyncClient, actors: Actors, free_venue: Venue) -> None:
    person = await actors.resident()
    for hour in (15, 9, 12, 10, 11):
        await http.post("/v1/bookings", json=free_venue.slot(3, hour), headers=person.headers)
    first = await http.get("/v1/me/bookings", params={"limit": 3}, headers=person.headers)
    assert [b["start"][11:13] for b in first.json()] == ["00", "01", "02"]  # 09:00–11:00 JST in UTC
    next_link = first.headers["link"].split(";")[0].strip("<>")
    second = await http.get(next_link, headers=person.headers)
    assert len(second.json()) == 2
    assert "link" not in second.headers
    assert_problem(await http.get("/v1/me/bookings", params={"cursor": "nope"}, headers=person.headers), 400)


async def test_calendar_download_lists_bookings_and_marks_cancelled_ones(
    http: httpx.AsyncClient, actors: Actors, venue: Venue
) -> None:
    person = await actors.resident()
    kept = (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)).json()
    dropped = (await http.post("/v1/bookings", json=venue.slot(3, 12), headers=person.headers)).json()
    await http.post(f"/v1/bookings/{dropped['id']}/cancel", headers=person.headers)
    response = await http.get("/v1/me/calendar.ics", headers=person.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [(str(e["uid"]), str(e["status"])) for e in events] == [
        (f"booking-{kept['id']}@musubi.jp", "TENTATIVE"),
        (f"booking-{dropped['id']}@musubi.jp", "CANCELLED"),
    ]
    assert events[0]["summary"] == "水戸市総合体育館 メインアリーナ"
    assert_problem(await http.get("/v1/me/calendar.ics"), 401)
