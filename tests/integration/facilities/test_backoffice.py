"""The facility operator's back office: resources, closing, closures, horizon, schedule, no-shows."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from backend.core.clock import MovableClock
from backend.core.settings import Settings
from backend.facilities.slots import TOKYO
from backend.seeds.seed import DEMO_PASSWORD, seed_demo
from tests.integration.facilities.conftest import Venue, make_venue
from tests.integration.lottery.test_lottery import apply, create_lottery, next_month_day
from tests.support import Actor, Actors, assert_problem, table_counts


async def _events(db: asyncpg.Pool, topic: str, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM outbox WHERE topic = $1 AND type = $2 ORDER BY id", topic, kind)
    return [json.loads(r["payload"]) for r in rows]


async def _book(http: httpx.AsyncClient, person: Actor, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/bookings", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


def _vacancy_units(response: httpx.Response, resource_id: int) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {v["start"]: v for v in response.json() if v["resourceId"] == resource_id}


# -- facilities and resources ------------------------------------------------------


async def test_operator_lists_own_facilities_with_resources_a_page_at_a_time(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    organization = await db.fetchval("SELECT organization_id FROM facilities WHERE id = $1", venue.facility_id)
    second = await http.post(
        "/v1/facilities",
        json={"organizationId": organization, "name": "水戸市民会館", "kind": "hall", "address": "水戸市泉町",
              "lat": 36.37, "lon": 140.47},
        headers=venue.staff.headers,
    )  # fmt: skip
    assert second.status_code == 201, second.text
    first_page = await http.get(
        f"/v1/organizations/{organization}/facilities", params={"limit": 1}, headers=venue.staff.headers
    )
    assert first_page.status_code == 200, first_page.text
    [facility] = first_page.json()
    assert facility["id"] == venue.facility_id
    assert [r["id"] for r in facility["resources"]] == [venue.resource_id]
    assert facility["resources"][0]["closedAt"] is None
    assert 'rel="next"' in first_page.headers["link"]
    next_url = first_page.headers["link"].split(">")[0].lstrip("<")
    second_page = await http.get(next_url, headers=venue.staff.headers)
    assert [f["id"] for f in second_page.json()] == [second.json()["id"]]

    stranger = await actors.member("municipality", "staff", await actors.organization("municipality"))
    hidden = await http.get(f"/v1/organizations/{organization}/facilities", headers=stranger.headers)
    assert_problem(hidden, 404)


async def test_staff_edit_fees_hours_reductions_and_new_bookings_use_them(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    patch = {
        "name": "メインアリーナ（全面）",
        "feePerUnit": 2000,
        "nonResidentFeePerUnit": None,
        "opensAt": "08:00:00",
        "reductions": {"senior": 30},
        "maxBookingsPerMonth": 4,
        "waitlistHoldMinutes": 15,
        "cancelDeadlineHours": 48,
    }
    headers = {**venue.staff.headers, "Idempotency-Key": str(uuid.uuid4())}
    response = await http.patch(f"/v1/resources/{venue.resource_id}", json=patch, headers=headers)
    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["name"] == "メインアリーナ（全面）"
    assert edited["feePerUnit"] == 2000
    assert edited["nonResidentFeePerUnit"] is None
    assert edited["opensAt"] == "08:00:00"
    assert edited["closesAt"] == "21:00:00"
    assert edited["reductions"] == {"senior": 30}
    assert edited["maxBookingsPerMonth"] == 4
    assert edited["waitlistHoldMinutes"] == 15
    replay = await http.patch(f"/v1/resources/{venue.resource_id}", json=patch, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'resource.update'") == 1

    resident = await actors.resident()
    booking = await _book(http, resident, venue.slot(3, 8))  # 08:00 is open now
    assert booking["fee"] == 2000  # the non-resident rate was cleared: everyone pays 2000

    bad = await http.patch(f"/v1/resources/{venue.resource_id}", json={"unitMinutes": 90}, headers=venue.staff.headers)
    assert_problem(bad, 422)  # 08:00–21:00 is not a whole number of 90-minute units


async def test_editing_another_organisations_resource_is_404_and_changes_nothing(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    other = await actors.member("municipality", "staff", await actors.organization("municipality"))
    before = await table_counts(db)
    before_row = dict(await db.fetchrow("SELECT * FROM resources WHERE id = $1", venue.resource_id))
    for method, path, body in [
        ("PATCH", f"/v1/resources/{venue.resource_id}", {"feePerUnit": 1}),
        ("POST", f"/v1/resources/{venue.resource_id}/close", {"reason": "x", "cancelBookings": True}),
        ("POST", f"/v1/facilities/{venue.facility_id}/closures",
         {"start": venue.slot(2, 9)["start"], "end": venue.slot(2, 12)["end"], "reason": "x"}),
        ("GET", f"/v1/facilities/{venue.facility_id}/bookings?from=2030-01-01&to=2030-01-02", None),
    ]:  # fmt: skip
        response = await http.request(method, path, json=body, headers=other.headers)
        assert_problem(response, 404)
    assert await table_counts(db) == before
    assert dict(await db.fetchrow("SELECT * FROM resources WHERE id = $1", venue.resource_id)) == before_row
    # The same requests from the owner's staff do their work, so the 404s above are about ownership.
    mine = await http.patch(f"/v1/resources/{venue.resource_id}", json={"feePerUnit": 1}, headers=venue.staff.headers)
    assert mine.status_code == 200, mine.text


async def test_closing_a_resource_with_future_bookings_without_a_choice_is_409_and_changes_nothing(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    await _book(http, await actors.resident(), venue.slot(5, 10))
    before = await table_counts(db)
    response = await http.post(
        f"/v1/resources/{venue.resource_id}/close", json={"reason": "床の改修"}, headers=venue.staff.headers
    )
    assert_problem(response, 409, "resource-has-bookings")
    assert await table_counts(db) == before
    assert await db.fetchval("SELECT closed_at FROM resources WHERE id = $1", venue.resource_id) is None


async def test_closing_with_cancel_bookings_tells_each_booker_why_and_refuses_new_bookings_until_reopened(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    paid_booker, unpaid_booker = await actors.resident(), await actors.resident()
    paid = await _book(http, paid_booker, venue.slot(5, 10))
    unpaid = await _book(http, unpaid_booker, venue.slot(6, 10))
    payment = await http.post(f"/v1/bookings/{paid['id']}/payment", headers=venue.staff.headers)
    assert payment.status_code == 200, payment.text

    closed = await http.post(
        f"/v1/resources/{venue.resource_id}/close",
        json={"reason": "床の改修工事", "cancelBookings": True},
        headers={**venue.staff.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert closed.status_code == 200, closed.text
    assert sorted(closed.json()["cancelledBookingIds"]) == sorted([paid["id"], unpaid["id"]])
    assert closed.json()["resource"]["closedReason"] == "床の改修工事"
    for person, booking in ((paid_booker, paid), (unpaid_booker, unpaid)):
        [event] = await _events(db, f"user:{person.account_id}", "booking.cancelled")
        assert event == {"type": "booking.cancelled", "bookingId": booking["id"],
                         "resourceId": venue.resource_id, "reason": "床の改修工事"}  # fmt: skip

    schedule = await http.get(
        f"/v1/facilities/{venue.facility_id}/bookings",
        params={"from": venue.day(0).isoformat(), "to": venue.day(7).isoformat()},
        headers=venue.staff.headers,
    )
    payments = {e["id"]: (e["status"], e["payment"], e["endReason"]) for e in schedule.json()}
    assert payments == {paid["id"]: ("cancelled", "refund_due", "床の改修工事"),
                        unpaid["id"]: ("cancelled", "void", "床の改修工事")}  # fmt: skip

    refused = await http.post("/v1/bookings", json=venue.slot(8, 10), headers=paid_booker.headers)
    assert_problem(refused, 409, "resource-closed")
    units = _vacancy_units(
        await http.get("/v1/vacancies", params={"date": venue.day(8).isoformat(), "facilityId": venue.facility_id}),
        venue.resource_id,
    )
    assert {u["state"] for u in units.values()} == {"closed"}

    reopened = await http.post(f"/v1/resources/{venue.resource_id}/reopen", headers=venue.staff.headers)
    assert reopened.status_code == 200
    assert reopened.json()["closedAt"] is None
    await _book(http, paid_booker, venue.slot(8, 10))


# -- closures (休館日・メンテナンス) ---------------------------------------------------


async def test_a_closure_shows_closed_in_vacancy_search_and_the_database_refuses_bookings_in_it(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    start, end = venue.slot(4, 9)["start"], venue.slot(4, 12)["start"]  # 09:00–12:00 on day 4
    created = await http.post(
        f"/v1/facilities/{venue.facility_id}/closures",
        json={"start": start, "end": end, "reason": "設備点検"},
        headers={**venue.staff.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    closure = created.json()
    assert closure["resourceId"] is None
    assert closure["cancelledBookingIds"] == []

    units = _vacancy_units(
        await http.get("/v1/vacancies", params={"date": venue.day(4).isoformat(), "facilityId": venue.facility_id}),
        venue.resource_id,
    )
    states = [units[k]["state"] for k in sorted(units)]
    assert states[:3] == ["closed"] * 3
    assert set(states[3:]) == {"free"}

    resident = await actors.resident()
    inside = await http.post("/v1/bookings", json=venue.slot(4, 11), headers=resident.headers)
    assert_problem(inside, 409, "facility-closed")
    # Even a write that skips the service's checks is refused by the database itself.
    with pytest.raises(asyncpg.ExclusionViolationError) as refused:
        await db.execute(
            "INSERT INTO bookings (resource_id, account_id, during, status, fee, created_at)"
            " VALUES ($1, $2, tstzrange($3::timestamptz, $4::timestamptz), 'confirmed', 0, now())",
            venue.resource_id, resident.account_id, datetime.fromisoformat(start), datetime.fromisoformat(end),
        )  # fmt: skip
    assert refused.value.constraint_name == "bookings_not_in_closure"
    await _book(http, resident, venue.slot(4, 12))  # right after it is free

    listed = await http.get(
        f"/v1/facilities/{venue.facility_id}/closures",
        params={"from": venue.day(4).isoformat(), "to": venue.day(4).isoformat()},
        headers=venue.staff.headers,
    )
    assert [c["id"] for c in listed.json()] == [closure["id"]]
    lifted = await http.post(f"/v1/closures/{closure['id']}/lift", headers=venue.staff.headers)
    assert lifted.status_code == 200
    assert lifted.json()["liftedAt"] is not None
    await _book(http, resident, venue.slot(4, 10))


async def test_a_closure_over_live_bookings_needs_the_choice_to_cancel_them(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    booker = await actors.resident()
    booking = await _book(http, booker, venue.slot(3, 14))
    body = {"start": venue.slot(3, 9)["start"], "end": venue.slot(3, 20)["end"], "reason": "停電工事",
            "resourceId": venue.resource_id}  # fmt: skip
    before = await table_counts(db)
    refused = await http.post(f"/v1/facilities/{venue.facility_id}/closures", json=body, headers=venue.staff.headers)
    assert_problem(refused, 409, "resource-has-bookings")
    assert await table_counts(db) == before

    created = await http.post(
        f"/v1/facilities/{venue.facility_id}/closures", json={**body, "cancelBookings": True},
        headers=venue.staff.headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["cancelledBookingIds"] == [booking["id"]]
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking["id"]) == "cancelled"
    [event] = await _events(db, f"user:{booker.account_id}", "booking.cancelled")
    assert event["reason"] == "停電工事"


# -- booking horizon (受付開始) -----------------------------------------------------


async def test_booking_beyond_the_horizon_is_refused_and_vacancy_search_shows_when_the_day_opens(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, clock: MovableClock
) -> None:
    edited = await http.patch(
        f"/v1/resources/{venue.resource_id}",
        json={"residentHorizonMonths": 3, "nonResidentHorizonMonths": 1},
        headers=venue.staff.headers,
    )
    assert edited.status_code == 200, edited.text
    outsider = await actors.resident()  # no municipality declared: books as a non-resident
    await _book(http, outsider, venue.slot(20, 10))
    too_early = await http.post("/v1/bookings", json=venue.slot(45, 10), headers=outsider.headers)
    assert_problem(too_early, 409, "not-open-for-booking")

    units = _vacancy_units(
        await http.get("/v1/vacancies", params={"date": venue.day(45).isoformat(), "facilityId": venue.facility_id}),
        venue.resource_id,
    )
    unit = next(iter(units.values()))
    assert unit["state"] == "free"
    assert unit["opensForBookingAt"] is None  # residents: 3 months ahead, so already open
    assert unit["opensForNonResidentsAt"] is not None
    clock.advance(timedelta(days=17))  # past the day's opening for non-residents (45 days − 1 month)
    outsider = await actors.login(outsider.email, outsider.account_id)  # the session ran out meanwhile
    await _book(http, outsider, venue.slot(45 - 17, 10))


# -- the schedule ---------------------------------------------------------------------


async def test_schedule_shows_booker_status_fee_reduction_and_payment_in_one_page_and_as_csv(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    alice, bob = await actors.resident(), await actors.resident()
    await db.execute("UPDATE accounts SET display_name = '=cmd|calc' WHERE id = $1", bob.account_id)
    first = await _book(http, alice, venue.slot(2, 10))
    second = await _book(http, bob, {**venue.slot(2, 12), "reduction": "disability"})
    other_day = await _book(http, alice, venue.slot(3, 9))
    await _book(http, alice, venue.slot(9, 9))  # outside the range asked for

    params = {"from": venue.day(2).isoformat(), "to": venue.day(3).isoformat()}
    response = await http.get(f"/v1/facilities/{venue.facility_id}/bookings", params=params,
                              headers=venue.staff.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["id"] for e in entries] == [first["id"], second["id"], other_day["id"]]
    assert entries[0]["bookerName"] == "Test Person"
    assert entries[0]["payment"] == "due"
    assert entries[0]["resourceName"] == "メインアリーナ"
    assert entries[1]["reduction"] == "disability"
    assert entries[1]["fee"] == 0
    assert entries[1]["payment"] == "none"
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'facility.schedule.read'") == 1

    paged = await http.get(f"/v1/facilities/{venue.facility_id}/bookings", params={**params, "limit": 2},
                           headers=venue.staff.headers)  # fmt: skip
    assert len(paged.json()) == 2
    assert 'rel="next"' in paged.headers["link"]
    rest = await http.get(paged.headers["link"].split(">")[0].lstrip("<"), headers=venue.staff.headers)
    assert [e["id"] for e in rest.json()] == [other_day["id"]]

    exported = await http.get(f"/v1/facilities/{venue.facility_id}/bookings", params=params,
                              headers={**venue.staff.headers, "Accept": "text/csv"})  # fmt: skip
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "予約番号"
    assert len(rows) == 4
    assert rows[2][5] == "'=cmd|calc"  # a formula-looking name stays text in Excel

    outsider = await actors.resident()
    assert_problem(await http.get(f"/v1/facilities/{venue.facility_id}/bookings", params=params,
                                  headers=outsider.headers), 403)  # fmt: skip


def _after_the_start(clock: MovableClock, booking: dict[str, Any]) -> None:
    """Half an hour into the booking, whatever the time of day the test runs at."""
    clock.advance_to(datetime.fromisoformat(booking["start"]) + timedelta(minutes=30))


async def test_staff_cancel_on_behalf_tells_the_booker_why_and_mark_a_no_show_after_the_start(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue, db: asyncpg.Pool, clock: MovableClock
) -> None:
    venue = free_venue
    booker = await actors.resident()
    cancelled = await _book(http, booker, venue.slot(2, 10))
    kept = await _book(http, booker, venue.slot(2, 14))
    response = await http.post(f"/v1/bookings/{cancelled['id']}/cancel", json={"reason": "大会のため"},
                               headers=venue.staff.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    [event] = await _events(db, f"user:{booker.account_id}", "booking.cancelled")
    assert event["reason"] == "大会のため"

    early = await http.post(f"/v1/bookings/{kept['id']}/no-show", headers=venue.staff.headers)
    assert_problem(early, 409, "not-started")
    _after_the_start(clock, kept)
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    marked = await http.post(
        f"/v1/bookings/{kept['id']}/no-show", headers={**staff.headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert marked.status_code == 200, marked.text
    assert await db.fetchval("SELECT no_show_at IS NOT NULL FROM bookings WHERE id = $1", kept["id"])
    assert await _events(db, f"user:{booker.account_id}", "booking.no_show") == [
        {"type": "booking.no_show", "bookingId": kept["id"], "resourceId": venue.resource_id}
    ]
    again = await http.post(f"/v1/bookings/{cancelled['id']}/no-show", headers=staff.headers)
    assert_problem(again, 409, "not-confirmed")


async def test_staff_of_another_operator_cannot_mark_a_no_show(
    http: httpx.AsyncClient, actors: Actors, free_venue: Venue, clock: MovableClock
) -> None:
    booking = await _book(http, await actors.resident(), free_venue.slot(1, 10))
    other = await make_venue(http, actors)
    _after_the_start(clock, booking)
    staff = await actors.login(other.staff.email, other.staff.account_id)
    assert_problem(await http.post(f"/v1/bookings/{booking['id']}/no-show", headers=staff.headers), 404)
    owner = await actors.login(free_venue.staff.email, free_venue.staff.account_id)
    marked = await http.post(f"/v1/bookings/{booking['id']}/no-show", headers=owner.headers)
    assert marked.status_code == 200, marked.text


# -- lotteries ------------------------------------------------------------------------


async def test_operator_sees_demand_per_slot_and_cancels_a_lottery_before_its_close(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    lottery = await create_lottery(http, venue)
    alice, bob = await actors.resident(), await actors.resident()
    assert (await apply(http, alice, lottery["id"], venue, (10, 10), (11, 9))).status_code == 201
    assert (await apply(http, bob, lottery["id"], venue, (11, 9), (10, 10))).status_code == 201
    organization = await db.fetchval("SELECT organization_id FROM facilities WHERE id = $1", venue.facility_id)

    listed = await http.get(f"/v1/organizations/{organization}/lotteries", headers=venue.staff.headers)
    assert listed.status_code == 200, listed.text
    [overview] = listed.json()
    assert overview["applications"] == 2
    demand = {(s["start"], s["applications"], s["firstChoice"]) for s in overview["slots"]}
    assert len(demand) == 2
    assert {(n, first) for _, n, first in demand} == {(2, 1)}

    stranger = await actors.member("facility_operator", "staff", await actors.organization("facility_operator"))
    hidden = await http.post(f"/v1/lotteries/{lottery['id']}/cancel", json={"reason": "x"}, headers=stranger.headers)
    assert_problem(hidden, 404)

    cancelled = await http.post(
        f"/v1/lotteries/{lottery['id']}/cancel",
        json={"reason": "体育館の改修のため中止"},
        headers={**venue.staff.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["resourceIds"] == [venue.resource_id]
    for person in (alice, bob):
        assert await _events(db, f"user:{person.account_id}", "lottery.cancelled") == [
            {"type": "lottery.cancelled", "lotteryId": lottery["id"], "reason": "体育館の改修のため中止"}
        ]
    late = await apply(http, alice, lottery["id"], venue, (12, 10))
    assert_problem(late, 409, "lottery-not-open")
    again = await http.post(f"/v1/lotteries/{lottery['id']}/cancel", json={"reason": "x"}, headers=venue.staff.headers)
    assert_problem(again, 409, "lottery-cancelled")
    # The month is no longer held for the lottery: first-come booking works at once.
    _, slot = next_month_day(10, 10)
    await _book(http, alice, {"resourceId": venue.resource_id, **slot})


# -- demo data ------------------------------------------------------------------------


async def test_demo_seed_gives_the_facility_staff_a_week_on_their_schedule(
    http: httpx.AsyncClient, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    await seed_demo(database_url, test_settings)
    await seed_demo(database_url, test_settings)  # idempotent: still one week
    session = await http.post("/v1/sessions", json={"email": "facility@demo.musubi.jp", "password": DEMO_PASSWORD})
    staff = {"Authorization": f"Bearer {session.json()['token']}"}
    [membership] = (await http.get("/v1/me", headers=staff)).json()["memberships"]
    [facility] = (await http.get(f"/v1/organizations/{membership['organizationId']}/facilities", headers=staff)).json()
    today = datetime.now(TOKYO).date()
    params = {"from": (today + timedelta(days=1)).isoformat(), "to": (today + timedelta(days=7)).isoformat()}
    schedule = await http.get(f"/v1/facilities/{facility['id']}/bookings", params=params, headers=staff)
    assert schedule.status_code == 200, schedule.text
    entries = schedule.json()
    assert len(entries) == 14
    assert {e["payment"] for e in entries} == {"paid", "due", "void"}
    assert {e["bookerName"] for e in entries} == {"保護者 Parent"}
    closures = await http.get(f"/v1/facilities/{facility['id']}/closures", params=params, headers=staff)
    assert len(closures.json()) == 1


async def test_a_closure_in_a_lottery_month_is_taken_time_for_the_draw(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool, clock: MovableClock
) -> None:
    lottery = await create_lottery(http, venue)
    applicant = await actors.resident()
    assert (await apply(http, applicant, lottery["id"], venue, (10, 10), (11, 9))).status_code == 201
    _, first_choice = next_month_day(10, 10)
    closure = await http.post(
        f"/v1/facilities/{venue.facility_id}/closures",
        json={**first_choice, "reason": "設備点検"},
        headers=venue.staff.headers,
    )
    assert closure.status_code == 201, closure.text
    clock.advance(timedelta(days=1, minutes=1))  # past the close
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    drawn = await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers)
    assert drawn.status_code == 200, drawn.text
    assert drawn.json()["results"][0]["wonRank"] == 2  # the closed first choice could not be won
    assert len(drawn.json()["taken"]) == 1  # the closure, published as taken time


async def test_staff_rename_and_move_their_facility_and_the_position_moves_as_a_pair(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, db: asyncpg.Pool
) -> None:
    path = f"/v1/facilities/{venue.facility_id}"
    half = await http.patch(path, json={"lat": 36.4}, headers=venue.staff.headers)
    assert_problem(half, 422)
    other = await actors.member("municipality", "staff", await actors.organization("municipality"))
    assert_problem(await http.patch(path, json={"name": "乗っ取り"}, headers=other.headers), 404)
    response = await http.patch(
        path,
        json={"name": "水戸市総合体育館（新館）", "address": "水戸市緑町2-1", "lat": 36.37, "lon": 140.47},
        headers=venue.staff.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "水戸市総合体育館（新館）"
    assert (response.json()["lat"], response.json()["lon"]) == (36.37, 140.47)
    shown = (await http.get(path, headers=venue.staff.headers)).json()
    assert shown["address"] == "水戸市緑町2-1"
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'facility.update'") == 1
