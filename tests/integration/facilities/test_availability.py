"""Resident search's week grid (GET /v1/facilities/availability): per facility and day, the units
still bookable of those not closed, and when a day beyond the booking horizon opens — by the same
rules as the vacancy search, for a prefecture's worth of facilities one page (one statement) at a time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx

from backend.facilities.slots import TOKYO, opens_for_booking
from tests.integration.facilities.conftest import Venue
from tests.support import Actors, assert_problem, statements

KASAMA, SHIMOTSUMA, TOKAI = 13, 8, 36


async def make_court(http: httpx.AsyncClient, actors: Actors, municipality_id: int, **resource: Any) -> Venue:
    """A tennis court of `municipality_id`, open 09:00–21:00 in hour units (12 a day)."""
    town = await actors.organization("municipality", municipality_id=municipality_id)
    staff = await actors.member("municipality", "staff", town)
    facility = await http.post(
        "/v1/facilities",
        json={"organizationId": town, "name": f"市民テニスコート {municipality_id}", "kind": "court",
              "address": "運動公園内", "lat": 36.2, "lon": 140.2},
        headers=staff.headers,
    )  # fmt: skip
    assert facility.status_code == 201, facility.text
    body = {"name": "Aコート", "unitMinutes": 60, "opensAt": "09:00", "closesAt": "21:00", "feePerUnit": 500,
            "nonResidentFeePerUnit": 800, "cancelDeadlineHours": 24, **resource}  # fmt: skip
    created = await http.post(f"/v1/facilities/{facility.json()['id']}/resources", json=body, headers=staff.headers)
    assert created.status_code == 201, created.text
    return Venue(facility.json()["id"], created.json()["id"], staff, municipality_id)


def week(response: httpx.Response, facility_id: int) -> dict[date, dict[str, Any]]:
    assert response.status_code == 200, response.text
    [facility] = [f for f in response.json() if f["id"] == facility_id]
    return {date.fromisoformat(d["date"]): d for d in facility["days"]}


async def test_the_week_grid_counts_free_units_around_bookings_and_closures(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    court = await make_court(http, actors, KASAMA)
    booker = await actors.resident()
    booked = await http.post("/v1/bookings", json=court.slot(3, 10, units=2), headers=booker.headers)
    assert booked.status_code == 201, booked.text
    closed = await http.post(
        f"/v1/facilities/{court.facility_id}/closures",
        json={"start": court.slot(4, 9)["start"], "end": court.slot(4, 12)["start"], "reason": "コート整備"},
        headers=court.staff.headers,
    )
    assert closed.status_code == 201, closed.text

    days = week(
        await http.get(
            "/v1/facilities/availability",
            params={"from": str(court.day(1)), "days": 7, "municipalityId": KASAMA, "kind": "court"},
        ),
        court.facility_id,
    )
    assert sorted(days) == [court.day(n) for n in range(1, 8)]
    assert (days[court.day(3)]["free"], days[court.day(3)]["total"]) == (10, 12)
    assert (days[court.day(4)]["free"], days[court.day(4)]["total"]) == (9, 9)  # three hours closed
    assert {(days[court.day(n)]["free"], days[court.day(n)]["total"]) for n in (1, 2, 5, 6, 7)} == {(12, 12)}
    assert all(d["opensAt"] is None for d in days.values())

    # Elsewhere, or another kind, it is not listed.
    other_town = await http.get("/v1/facilities/availability", params={"from": str(court.day(1)), "municipalityId": 1})
    assert court.facility_id not in {f["id"] for f in other_town.json()}
    gyms = await http.get("/v1/facilities/availability", params={"from": str(court.day(1)), "kind": "gym"})
    assert court.facility_id not in {f["id"] for f in gyms.json()}


async def test_days_past_the_horizon_say_when_they_open_residents_earlier_than_others(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    court = await make_court(http, actors, SHIMOTSUMA)
    edited = await http.patch(
        f"/v1/resources/{court.resource_id}",
        json={"residentHorizonMonths": 2, "nonResidentHorizonMonths": 1},
        headers=court.staff.headers,
    )
    assert edited.status_code == 200, edited.text
    local, outsider = await actors.resident(), await actors.resident()
    await actors.lives_in(local, SHIMOTSUMA)
    first = court.day(27)  # the window straddles a month from today
    params = {"from": str(first), "days": 7, "municipalityId": SHIMOTSUMA}
    now = datetime.now(TOKYO)

    for person, months in ((outsider, 1), (local, 2)):
        seen = await http.get("/v1/facilities/availability", params=params, headers=person.headers)
        days = week(seen, court.facility_id)
        for day, cell in days.items():
            opens = opens_for_booking(day, months)
            if opens > now:
                assert cell["free"] == 0
                assert datetime.fromisoformat(cell["opensAt"]) == opens
            else:
                assert cell["free"] == 12
                assert cell["opensAt"] is None
    # Without a token, the non-residents' horizon.
    anonymous = week(await http.get("/v1/facilities/availability", params=params), court.facility_id)
    assert any(cell["opensAt"] for cell in anonymous.values())
    assert anonymous == week(
        await http.get("/v1/facilities/availability", params=params, headers=outsider.headers), court.facility_id
    )


async def test_pages_over_facilities_with_link_headers_one_statement_a_page(
    counting: httpx.AsyncClient, http: httpx.AsyncClient, actors: Actors
) -> None:
    courts = [await make_court(http, actors, TOKAI) for _ in range(3)]
    params = {"from": str(courts[0].day(1)), "municipalityId": TOKAI, "limit": 2}
    await counting.get("/v1/facilities/availability", params=params)  # prepares the statement on a connection

    first = await counting.get("/v1/facilities/availability", params=params)
    assert first.status_code == 200, first.text
    assert [f["id"] for f in first.json()] == [c.facility_id for c in courts[:2]]
    assert all(len(f["days"]) == 7 for f in first.json())
    assert statements(first) == 1
    following = await counting.get(first.headers["link"].split(";")[0].strip("<>"))
    assert [f["id"] for f in following.json()] == [courts[2].facility_id]
    assert "link" not in following.headers
    assert statements(following) == 1


async def test_bad_filters_are_refused_as_problems(http: httpx.AsyncClient) -> None:
    today = datetime.now(TOKYO).date()
    url = "/v1/facilities/availability"
    assert_problem(await http.get(url), 400)
    assert_problem(await http.get(url, params={"from": "2026-02-30"}), 400)
    assert_problem(await http.get(url, params={"from": str(today), "days": 15}), 400)
    assert_problem(await http.get(url, params={"from": str(today), "days": 0}), 400)
    assert_problem(await http.get(url, params={"from": str(today), "kind": "casino"}), 400)
    assert_problem(await http.get(url, params={"from": str(today), "municipalityId": 0}), 400)
    assert_problem(await http.get(url, params={"from": str(today + timedelta(days=3000))}), 400, "bad-range")
    assert_problem(await http.get(url, params={"from": str(today), "cursor": "x"}), 400, "bad-cursor")


async def test_the_municipalities_to_search_are_the_44_of_ibaraki(http: httpx.AsyncClient) -> None:
    listed = await http.get("/v1/municipalities")
    assert listed.status_code == 200
    assert len(listed.json()) == 44
    assert listed.json()[0] == {"id": 1, "nameJa": "水戸市", "nameEn": "Mito"}
