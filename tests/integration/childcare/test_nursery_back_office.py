"""The nursery's back office (issue 17): sessions by date range, capacity edits, cancellation,
the day's roster (audited) and attendance at the door."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, time, timedelta

import asyncpg
import httpx
import pytest

from backend.core.clock import MovableClock
from backend.core.settings import Settings
from backend.facilities.slots import TOKYO
from backend.seeds.seed import DEMO_PASSWORD, seed_demo
from tests.integration.childcare.test_childcare import (
    Nursery,
    apply,
    child_of,
    in_days,
    reserve,
    session,
    years_before,
)
from tests.support import Actors, assert_problem, table_counts


@pytest.fixture
async def nursery(actors: Actors) -> Nursery:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    return Nursery(nursery_id, await actors.member("nursery", "staff", nursery_id))


def sessions_url(nursery: Nursery, session_id: int | None = None) -> str:
    base = f"/v1/nurseries/{nursery.id}/sessions"
    return base if session_id is None else f"{base}/{session_id}"


async def places(db: asyncpg.Pool, session_id: int) -> dict[str, tuple[int, int]]:
    rows = await db.fetch("SELECT band, capacity, used FROM childcare_places WHERE session_id = $1", session_id)
    return {r["band"]: (r["capacity"], r["used"]) for r in rows}


# -- sessions by date range -----------------------------------------------------------------------


async def test_sessions_are_listed_by_date_range_with_places_taken_and_a_next_link(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery
) -> None:
    days = [in_days(n) for n in (3, 4, 5, 20)]
    ids = [await session(http, nursery, day) for day in days]
    afternoon = await session(http, nursery, days[0], "afternoon")
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(days[1], 3), approve_at=nursery)
    assert (await reserve(http, parent, ids[1], child)).status_code == 201

    first = await http.get(
        sessions_url(nursery),
        params={"from": str(days[0]), "to": str(days[2]), "limit": 3},
        headers=nursery.staff.headers,
    )
    assert first.status_code == 200, first.text
    assert [s["id"] for s in first.json()] == [ids[0], afternoon, ids[1]]
    assert {p["band"]: p["used"] for p in first.json()[2]["places"]} == {"0": 0, "1-2": 0, "3-5": 1}
    assert first.json()[2]["cancelledAt"] is None
    link = first.headers["link"]
    assert link.endswith('; rel="next"')
    second = await http.get(link[1 : link.index(">")], headers=nursery.staff.headers)
    assert second.status_code == 200, second.text
    assert [s["id"] for s in second.json()] == [ids[2]]  # the 20th day is outside the range
    assert "link" not in second.headers


async def test_session_list_refuses_a_reversed_or_too_long_range_and_a_forged_cursor(
    http: httpx.AsyncClient, nursery: Nursery
) -> None:
    for params, slug in (
        ({"from": str(in_days(5)), "to": str(in_days(4))}, "bad-range"),
        ({"from": str(in_days(0)), "to": str(in_days(200))}, "range-too-long"),
        ({"from": str(in_days(0)), "to": str(in_days(5)), "cursor": "2026-01-01.99999999999999999999"}, "bad-cursor"),
        ({"from": str(in_days(0)), "to": str(in_days(5)), "cursor": "yesterday.1"}, "bad-cursor"),
    ):
        assert_problem(await http.get(sessions_url(nursery), params=params, headers=nursery.staff.headers), 400, slug)
    assert_problem(await http.get(sessions_url(nursery), headers=nursery.staff.headers), 400)


# -- capacity -------------------------------------------------------------------------------------


async def test_capacity_never_goes_below_places_taken(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(6)
    session_id = await session(http, nursery, day, three_five=3)
    for _ in range(2):
        parent = await actors.resident()
        child = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
        assert (await reserve(http, parent, session_id, child)).status_code == 201

    before = await table_counts(db)
    refused = await http.patch(
        sessions_url(nursery, session_id), json={"capacity": {"3-5": 1, "0": 5}}, headers=nursery.staff.headers
    )
    problem = assert_problem(refused, 409, "capacity-below-places-taken")
    assert "places already taken" in problem["title"]
    assert await places(db, session_id) == {"0": (3, 0), "1-2": (3, 0), "3-5": (3, 2)}  # neither band changed
    assert await table_counts(db) == before

    lowered = await http.patch(
        sessions_url(nursery, session_id), json={"capacity": {"3-5": 2, "0": 0}}, headers=nursery.staff.headers
    )
    assert lowered.status_code == 200, lowered.text
    assert {p["band"]: (p["capacity"], p["used"]) for p in lowered.json()["places"]} == {
        "0": (0, 0),
        "1-2": (3, 0),
        "3-5": (2, 2),
    }
    assert_problem(
        await http.patch(sessions_url(nursery, session_id), json={"capacity": {}}, headers=nursery.staff.headers), 422
    )
    assert_problem(
        await http.patch(
            sessions_url(nursery, session_id), json={"capacity": {"3-5": 201}}, headers=nursery.staff.headers
        ),
        422,
    )


async def test_lowering_capacity_while_parents_race_for_places_never_overbooks(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(7)
    session_id = await session(http, nursery, day, one_two=10)
    parents = await actors.many_residents(12)
    children = [await child_of(http, p, years_before(day, 1, days=30), approve_at=nursery) for p in parents]
    edit = http.patch(sessions_url(nursery, session_id), json={"capacity": {"1-2": 4}}, headers=nursery.staff.headers)
    responses = await asyncio.gather(
        edit, *(reserve(http, p, session_id, c) for p, c in zip(parents, children, strict=True))
    )
    capacity, used = (await places(db, session_id))["1-2"]
    reserved = sum(r.status_code == 201 for r in responses[1:])
    assert (
        used
        == reserved
        == await db.fetchval(
            "SELECT count(*) FROM childcare_reservations WHERE session_id = $1 AND status = 'reserved'", session_id
        )
    )
    assert used <= capacity
    if responses[0].status_code == 200:
        assert capacity == 4
    else:
        assert_problem(responses[0], 409, "capacity-below-places-taken")
        assert capacity == 10
        assert used > 4


async def test_a_place_added_goes_to_the_first_waiter(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(8)
    session_id = await session(http, nursery, day, three_five=1)
    first, waiter = await actors.resident(), await actors.resident()
    first_child = await child_of(http, first, years_before(day, 4), approve_at=nursery)
    waiting_child = await child_of(http, waiter, years_before(day, 4), approve_at=nursery)
    assert (await reserve(http, first, session_id, first_child)).status_code == 201
    joined = await http.post(
        "/v1/childcare/waitlist", json={"sessionId": session_id, "childId": waiting_child}, headers=waiter.headers
    )
    assert joined.status_code == 201, joined.text
    raised = await http.patch(
        sessions_url(nursery, session_id), json={"capacity": {"3-5": 2}}, headers=nursery.staff.headers
    )
    assert raised.status_code == 200, raised.text
    assert await places(db, session_id) == {"0": (3, 0), "1-2": (3, 0), "3-5": (2, 2)}
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE type = 'childcare.offered' AND topic = $1", f"user:{waiter.account_id}"
        )
        == 1
    )
    assert (await reserve(http, waiter, session_id, waiting_child)).status_code == 201  # takes the hold


async def test_another_nurserys_session_is_404_and_changes_nothing(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    other_id = await actors.organization("nursery", municipality_id=1)
    other = Nursery(other_id, await actors.member("nursery", "staff", other_id))
    theirs = await session(http, other, in_days(5))
    before = await table_counts(db)
    # Their session under our nursery's path, and our staff on their nursery's path.
    for path in (sessions_url(nursery, theirs), sessions_url(other, theirs)):
        assert_problem(
            await http.patch(path, json={"capacity": {"3-5": 0}}, headers=nursery.staff.headers), 404, "not-found"
        )
        assert_problem(
            await http.post(f"{path}/cancel", json={"reason": "閉園"}, headers=nursery.staff.headers), 404, "not-found"
        )
    assert_problem(
        await http.get(
            f"/v1/nurseries/{other.id}/roster", params={"date": str(in_days(5))}, headers=nursery.staff.headers
        ),
        404,
    )
    assert await table_counts(db) == before
    assert (await places(db, theirs))["3-5"] == (3, 0)
    # The same requests from that nursery's own staff go through: the 404 above is the scope.
    own = await http.patch(sessions_url(other, theirs), json={"capacity": {"3-5": 0}}, headers=other.staff.headers)
    assert own.status_code == 200, own.text
    roster = await http.get(
        f"/v1/nurseries/{other.id}/roster", params={"date": str(in_days(5))}, headers=other.staff.headers
    )
    assert roster.status_code == 200, roster.text


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelling_a_session_cancels_its_places_tells_the_parents_and_returns_quota_hours(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    town = await actors.organization("municipality", municipality_id=1)
    officer = await actors.member("municipality", "staff", town)
    quota = await http.put("/v1/municipalities/1/childcare-quota", json={"monthlyHours": 40}, headers=officer.headers)
    assert quota.status_code == 200, quota.text
    day = in_days(40).replace(day=12)
    session_id = await session(http, nursery, day, "full_day", three_five=1)
    kept = await session(http, nursery, day + timedelta(days=1), "morning")
    reserved_parent, waiting_parent = await actors.resident(), await actors.resident()
    child = await child_of(http, reserved_parent, years_before(day, 4), approve_at=nursery)
    waiting_child = await child_of(http, waiting_parent, years_before(day, 4), approve_at=nursery)
    reservation = (await reserve(http, reserved_parent, session_id, child)).json()
    assert (await reserve(http, reserved_parent, kept, child)).status_code == 201
    joined = await http.post(
        "/v1/childcare/waitlist",
        json={"sessionId": session_id, "childId": waiting_child},
        headers=waiting_parent.headers,
    )
    assert joined.status_code == 201, joined.text
    assert await db.fetchval("SELECT hours FROM childcare_hours_used WHERE child_id = $1", child) == 12

    cancelled = await http.post(
        f"{sessions_url(nursery, session_id)}/cancel", json={"reason": "職員不足 short of staff"},
        headers=nursery.staff.headers,
    )  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["reservationsCancelled"] == 1
    assert body["session"]["cancelledAt"] is not None
    assert body["session"]["cancelReason"] == "職員不足 short of staff"
    assert all(p["used"] == 0 for p in body["session"]["places"])

    assert (
        await db.fetchval("SELECT status FROM childcare_reservations WHERE id = $1", reservation["id"]) == "cancelled"
    )
    assert await db.fetchval("SELECT hours FROM childcare_hours_used WHERE child_id = $1", child) == 4  # the kept one
    assert await db.fetchval("SELECT status FROM childcare_waitlist WHERE child_id = $1", waiting_child) == "expired"
    events = await db.fetch(
        "SELECT payload FROM outbox WHERE type = 'childcare.cancelled' AND topic = $1",
        f"user:{reserved_parent.account_id}",
    )
    assert [json.loads(e["payload"]) for e in events] == [
        {"type": "childcare.cancelled", "reservationId": reservation["id"], "sessionId": session_id, "byNursery": True}
    ]
    # Gone from the parents' search, and closed to a new reservation or a second cancellation.
    marks = await http.get(
        "/v1/childcare/availability", params={"date": str(day), "childId": child}, headers=reserved_parent.headers
    )
    assert session_id not in [m["sessionId"] for m in marks.json()]
    assert_problem(await reserve(http, reserved_parent, session_id, child), 409, "session-cancelled")
    assert_problem(
        await http.post("/v1/childcare/waitlist", json={"sessionId": session_id, "childId": waiting_child},
                        headers=waiting_parent.headers),
        409, "session-cancelled",
    )  # fmt: skip
    assert_problem(
        await http.post(f"{sessions_url(nursery, session_id)}/cancel", json={"reason": "again"},
                        headers=nursery.staff.headers),
        409, "session-cancelled",
    )  # fmt: skip
    assert_problem(
        await http.patch(
            sessions_url(nursery, session_id), json={"capacity": {"3-5": 5}}, headers=nursery.staff.headers
        ),
        409,
        "session-cancelled",
    )
    assert (await places(db, kept))["3-5"] == (3, 1)


async def test_a_session_cancelled_while_parents_reserve_keeps_no_child(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(9)
    session_id = await session(http, nursery, day, one_two=20)
    parents = await actors.many_residents(15)
    children = [await child_of(http, p, years_before(day, 2, days=10), approve_at=nursery) for p in parents]
    cancel = http.post(
        f"{sessions_url(nursery, session_id)}/cancel", json={"reason": "休園"}, headers=nursery.staff.headers
    )
    responses = await asyncio.gather(
        *(reserve(http, p, session_id, c) for p, c in zip(parents, children, strict=True)), cancel
    )
    assert responses[-1].status_code == 200, responses[-1].text
    assert (
        await db.fetchval(
            "SELECT count(*) FROM childcare_reservations WHERE session_id = $1 AND status IN ('held', 'reserved')",
            session_id,
        )
        == 0
    )
    assert (await places(db, session_id))["1-2"] == (20, 0)
    cancelled = await db.fetchval(
        "SELECT count(*) FROM childcare_reservations WHERE session_id = $1 AND status = 'cancelled'", session_id
    )
    assert responses[-1].json()["reservationsCancelled"] == cancelled
    assert cancelled == sum(r.status_code == 201 for r in responses[:-1])


async def test_a_started_session_can_not_be_cancelled_or_resized(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, clock: MovableClock
) -> None:
    day = in_days(1)
    session_id = await session(http, nursery, day)
    start = datetime.combine(day, time(8, 30), TOKYO)
    clock.advance(start - datetime.now(TOKYO) + timedelta(minutes=1))
    nursery = Nursery(nursery.id, await actors.login(nursery.staff.email, nursery.staff.account_id))
    assert_problem(
        await http.post(f"{sessions_url(nursery, session_id)}/cancel", json={"reason": "x"},
                        headers=nursery.staff.headers),
        409, "session-started",
    )  # fmt: skip
    assert_problem(
        await http.patch(sessions_url(nursery, session_id), json={"capacity": {"0": 1}}, headers=nursery.staff.headers),
        409,
        "session-started",
    )


# -- the day's roster and attendance --------------------------------------------------------------


async def test_roster_shows_the_days_children_with_allergies_and_audits_each_view(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(4)
    morning = await session(http, nursery, day, "morning")
    afternoon = await session(http, nursery, day, "afternoon")
    await session(http, nursery, day + timedelta(days=1), "morning")
    parent = await actors.resident()
    older = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
    baby = await child_of(http, parent, years_before(day, 0, days=200), approve_at=nursery)
    applicant = await child_of(http, parent, years_before(day, 3))
    await apply(http, parent, applicant, nursery)  # applied, not approved: never on the roster
    assert (await reserve(http, parent, morning, older)).status_code == 201
    assert (await reserve(http, parent, morning, baby)).status_code == 201
    assert (await reserve(http, parent, afternoon, older)).status_code == 201

    response = await http.get(
        f"/v1/nurseries/{nursery.id}/roster", params={"date": str(day)}, headers=nursery.staff.headers
    )
    assert response.status_code == 200, response.text
    roster = response.json()
    assert [(s["sessionId"], s["block"]) for s in roster["sessions"]] == [
        (afternoon, "afternoon"),
        (morning, "morning"),
    ]
    morning_bands = {b["band"]: b for b in roster["sessions"][1]["bands"]}
    assert [c["childId"] for c in morning_bands["0"]["children"]] == [baby]
    shown = morning_bands["3-5"]["children"][0]
    assert shown["childId"] == older
    assert shown["allergies"] == ["卵 egg"]
    assert shown["notes"] == "昼寝は1時間"
    assert shown["ageYears"] == 4
    assert shown["attendance"] == "expected"
    assert morning_bands["3-5"]["used"] == 1
    assert morning_bands["1-2"]["children"] == []

    audit = await db.fetch("SELECT * FROM audit WHERE action = 'childcare.roster.read'")
    assert len(audit) == 1
    assert audit[0]["actor_account_id"] == nursery.staff.account_id
    assert audit[0]["subject_id"] == f"{nursery.id}:{day}"
    named = audit[0]["reason"].rsplit("children ", 1)[1].split(", ")
    assert sorted(map(int, named)) == sorted([older, baby, older])
    assert str(applicant) not in named

    await http.get(f"/v1/nurseries/{nursery.id}/roster", params={"date": str(day)}, headers=nursery.staff.headers)
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'childcare.roster.read'") == 2
    assert_problem(
        await http.get(f"/v1/nurseries/{nursery.id}/roster", params={"date": str(day)}, headers=parent.headers), 403
    )


async def test_attendance_is_recorded_once_on_the_session_day(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool, clock: MovableClock
) -> None:
    day = in_days(2)
    session_id = await session(http, nursery, day)
    parent = await actors.resident()
    came = await child_of(http, parent, years_before(day, 3), approve_at=nursery)
    stayed_home = await child_of(http, parent, years_before(day, 3, days=40), approve_at=nursery)
    arrived_id = (await reserve(http, parent, session_id, came)).json()["id"]
    absent_id = (await reserve(http, parent, session_id, stayed_home)).json()["id"]

    async def attend(reservation_id: int, state: str, headers: dict[str, str]) -> httpx.Response:
        return await http.post(
            f"/v1/childcare/reservations/{reservation_id}/attendance", json={"state": state}, headers=headers
        )

    assert_problem(await attend(arrived_id, "arrived", parent.headers), 403)
    assert_problem(await attend(arrived_id, "arrived", nursery.staff.headers), 409, "session-not-started")
    assert_problem(await attend(arrived_id, "late", nursery.staff.headers), 422)

    clock.advance(datetime.combine(day, time(8, 0), TOKYO) - datetime.now(TOKYO))
    nursery = Nursery(nursery.id, await actors.login(nursery.staff.email, nursery.staff.account_id))
    parent = await actors.login(parent.email, parent.account_id)
    arrived = await attend(arrived_id, "arrived", nursery.staff.headers)
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["status"] == "reserved"
    assert arrived.json()["arrivedAt"] is not None
    absent = await attend(absent_id, "no_show", nursery.staff.headers)
    assert absent.status_code == 200, absent.text
    assert absent.json()["status"] == "no_show"
    assert_problem(await attend(arrived_id, "no_show", nursery.staff.headers), 409, "attendance-recorded")
    assert_problem(await attend(absent_id, "arrived", nursery.staff.headers), 409, "not-reserved")

    roster = (
        await http.get(f"/v1/nurseries/{nursery.id}/roster", params={"date": str(day)}, headers=nursery.staff.headers)
    ).json()
    attendance = {c["childId"]: c["attendance"] for b in roster["sessions"][0]["bands"] for c in b["children"]}
    assert attendance == {came: "arrived", stayed_home: "no_show"}
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action LIKE 'childcare.attendance.%'") == 2
    # A child who came can no longer be cancelled by the parent (the deadline has passed anyway).
    cancel = await http.post(f"/v1/childcare/reservations/{arrived_id}/cancel", headers=parent.headers)
    assert_problem(cancel, 409)


# -- demo seed ------------------------------------------------------------------------------------


async def test_demo_seed_gives_the_nursery_a_week_of_sessions_and_a_roster_with_the_demo_child(
    http: httpx.AsyncClient, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    await seed_demo(database_url, test_settings)
    await seed_demo(database_url, test_settings)  # a second run adds nothing
    login = await http.post("/v1/sessions", json={"email": "nursery@demo.musubi.jp", "password": DEMO_PASSWORD})
    staff = {"Authorization": f"Bearer {login.json()['token']}"}
    nursery_id = await db.fetchval("SELECT nursery_id FROM child_approvals")
    today = datetime.now(TOKYO).date()
    week = await http.get(
        f"/v1/nurseries/{nursery_id}/sessions",
        params={"from": str(today), "to": str(today + timedelta(days=7))},
        headers=staff,
    )
    assert week.status_code == 200, week.text
    weekdays = [d for d in (today + timedelta(days=n) for n in range(8)) if d.weekday() < 5]
    assert sorted({s["date"] for s in week.json()}) == [str(d) for d in weekdays]
    assert len(week.json()) == 2 * len(weekdays)
    roster = await http.get(f"/v1/nurseries/{nursery_id}/roster", params={"date": str(weekdays[0])}, headers=staff)
    assert roster.status_code == 200, roster.text
    shown = [c for s in roster.json()["sessions"] for b in s["bands"] for c in b["children"]]
    assert [(c["name"], c["allergies"]) for c in shown] == [("佐藤 葵 Aoi Sato", ["卵 egg"])]
    assert await db.fetchval("SELECT sum(used) FROM childcare_places") == 2
    assert await db.fetchval("SELECT sum(hours) FROM childcare_hours_used") == 8
