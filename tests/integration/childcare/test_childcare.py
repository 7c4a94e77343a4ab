from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from backend.childcare.service import ChildcareService, band_on
from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.facilities.slots import TOKYO
from tests.support import Actor, Actors, assert_problem


@dataclass
class Nursery:
    id: int
    staff: Actor


def in_days(days: int) -> date:
    return datetime.now(TOKYO).date() + timedelta(days=days)


def years_before(day: date, years: int, days: int = 0) -> date:
    return day.replace(year=day.year - years) - timedelta(days=days)


@pytest.fixture
async def nursery(actors: Actors) -> Nursery:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    return Nursery(nursery_id, await actors.member("nursery", "staff", nursery_id))


async def session(http: httpx.AsyncClient, nursery: Nursery, day: date, block: str = "morning", **places: int) -> int:
    capacity = {"0": places.get("zero", 3), "1-2": places.get("one_two", 3), "3-5": places.get("three_five", 3)}
    response = await http.post(
        f"/v1/nurseries/{nursery.id}/sessions",
        json={"date": str(day), "block": block, "capacity": capacity},
        headers=nursery.staff.headers,
    )
    assert response.status_code == 201, response.text
    session_id: int = response.json()["id"]
    return session_id


async def child_of(http: httpx.AsyncClient, parent: Actor, birth: date, approve_at: Nursery | None = None) -> int:
    response = await http.post(
        "/v1/children",
        json={"name": "鈴木 蓮", "birthDate": str(birth), "allergies": ["卵 egg"], "notes": "昼寝は1時間"},
        headers=parent.headers,
    )
    assert response.status_code == 201, response.text
    child_id: int = response.json()["id"]
    if approve_at is not None:
        await apply(http, parent, child_id, approve_at)
        approved = await approve(http, approve_at, child_id)
        assert approved.status_code == 201, approved.text
    return child_id


async def apply(http: httpx.AsyncClient, parent: Actor, child_id: int, nursery: Nursery) -> dict[str, Any]:
    response = await http.post(
        f"/v1/children/{child_id}/applications", json={"nurseryId": nursery.id}, headers=parent.headers
    )
    assert response.status_code == 201, response.text
    application: dict[str, Any] = response.json()
    return application


async def approve(http: httpx.AsyncClient, nursery: Nursery, child_id: int) -> httpx.Response:
    return await http.post(
        f"/v1/children/{child_id}/approvals", json={"nurseryId": nursery.id}, headers=nursery.staff.headers
    )


async def reserve(http: httpx.AsyncClient, parent: Actor, session_id: int, child_id: int) -> httpx.Response:
    return await http.post(
        "/v1/childcare/reservations", json={"sessionId": session_id, "childId": child_id}, headers=parent.headers
    )


def test_age_band_turns_on_the_birthday() -> None:
    birthday = date(2021, 6, 15)
    assert band_on(birthday, date(2022, 6, 14)) == "0"
    assert band_on(birthday, date(2022, 6, 15)) == "1-2"
    assert band_on(birthday, date(2024, 6, 14)) == "1-2"
    assert band_on(birthday, date(2024, 6, 15)) == "3-5"
    assert band_on(birthday, date(2027, 6, 15)) is None
    assert band_on(date(2020, 2, 29), date(2021, 2, 28)) == "0"  # turns one on 1 March in a common year
    assert band_on(date(2020, 2, 29), date(2021, 3, 1)) == "1-2"


async def test_fifty_parents_race_for_the_last_three_places(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    day = in_days(5)
    session_id = await session(http, nursery, day, one_two=3)
    parents = await actors.many_residents(50)
    children = []
    for parent in parents:  # each registered and approved (面談) beforehand
        children.append(await child_of(http, parent, years_before(day, 1, days=30), approve_at=nursery))
    responses = await asyncio.gather(*(reserve(http, p, session_id, c) for p, c in zip(parents, children, strict=True)))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 47
    assert {r.json()["type"].rsplit("/", 1)[1] for r in responses if r.status_code == 409} == {"full"}
    assert (
        await db.fetchval("SELECT used FROM childcare_places WHERE session_id = $1 AND band = '1-2'", session_id) == 3
    )
    assert await db.fetchval("SELECT count(*) FROM childcare_reservations WHERE status = 'reserved'") == 3


async def test_band_at_the_birthday_boundary_decides_which_places_count(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery
) -> None:
    day = in_days(6)
    session_id = await session(http, nursery, day, zero=0, one_two=1)
    parent = await actors.resident()
    turns_one_that_day = await child_of(http, parent, years_before(day, 1), approve_at=nursery)
    turns_one_next_day = await child_of(http, parent, years_before(day, 1, days=-1), approve_at=nursery)
    marks = (
        await http.get(
            "/v1/childcare/availability",
            params={"date": str(day), "childId": turns_one_next_day},
            headers=parent.headers,
        )
    ).json()
    assert [(m["band"], m["mark"]) for m in marks] == [("0", "×")]
    assert (await reserve(http, parent, session_id, turns_one_next_day)).status_code == 409
    reserved = await reserve(http, parent, session_id, turns_one_that_day)
    assert reserved.status_code == 201, reserved.text
    assert reserved.json()["band"] == "1-2"


async def test_availability_marks(http: httpx.AsyncClient, actors: Actors, nursery: Nursery) -> None:
    day = in_days(7)
    roomy = await session(http, nursery, day, "morning", three_five=5)
    few = await session(http, nursery, day, "afternoon", three_five=2)
    full = await session(http, nursery, day, "full_day", three_five=0)
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(day, 4))
    marks = (
        await http.get(
            "/v1/childcare/availability",
            params={"date": str(day), "childId": child, "municipalityId": 1},
            headers=parent.headers,
        )
    ).json()
    assert {m["sessionId"]: m["mark"] for m in marks} == {roomy: "◯", few: "△", full: "×"}
    other_parent = await actors.resident()
    assert_problem(
        await http.get(
            "/v1/childcare/availability", params={"date": str(day), "childId": child}, headers=other_parent.headers
        ),
        404,
    )


async def test_unapproved_child_gets_403(http: httpx.AsyncClient, actors: Actors, nursery: Nursery) -> None:
    session_id = await session(http, nursery, in_days(5))
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(5), 4))
    assert_problem(await reserve(http, parent, session_id, child), 403, "not-approved")


async def test_monthly_quota_is_enforced(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    town = await actors.organization("municipality", municipality_id=1)
    officer = await actors.member("municipality", "staff", town)
    quota = await http.put("/v1/municipalities/1/childcare-quota", json={"monthlyHours": 10}, headers=officer.headers)
    assert quota.status_code == 200, quota.text
    assert_problem(
        await http.put("/v1/municipalities/2/childcare-quota", json={"monthlyHours": 99}, headers=officer.headers), 404
    )
    day = in_days(40).replace(day=10)  # three sessions in one month
    sessions = [await session(http, nursery, day + timedelta(days=n), "full_day") for n in range(2)]
    sessions.append(await session(http, nursery, day + timedelta(days=2), "morning"))
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(day, 3), approve_at=nursery)
    assert (await reserve(http, parent, sessions[0], child)).status_code == 201  # 8 h
    assert_problem(await reserve(http, parent, sessions[1], child), 409, "quota-exceeded")  # 16 h > 10
    assert (
        await db.fetchval("SELECT used FROM childcare_places WHERE session_id = $1 AND band = '3-5'", sessions[1]) == 0
    )
    assert_problem(await reserve(http, parent, sessions[2], child), 409, "quota-exceeded")  # 12 h > 10


async def test_cancellation_until_the_deadline(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, clock: MovableClock
) -> None:
    session_id = await session(http, nursery, in_days(2))
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(2), 2), approve_at=nursery)
    first = (await reserve(http, parent, session_id, child)).json()
    cancelled = await http.post(f"/v1/childcare/reservations/{first['id']}/cancel", headers=parent.headers)
    assert cancelled.status_code == 200
    again = (await reserve(http, parent, session_id, child)).json()
    clock.advance(timedelta(days=1, hours=12))  # past 24 h before the 08:30 start
    parent = await actors.login(parent.email, parent.account_id)
    late = await http.post(f"/v1/childcare/reservations/{again['id']}/cancel", headers=parent.headers)
    assert_problem(late, 409, "cancel-deadline-passed")


async def test_child_record_privacy_and_audit(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 2), approve_at=nursery)
    other_nursery = await actors.member("nursery", "staff")
    assert_problem(await http.get(f"/v1/children/{child}", headers=other_nursery.headers), 404)
    assert_problem(await http.get(f"/v1/children/{child}", headers=(await actors.resident()).headers), 404)
    own = (await http.get(f"/v1/children/{child}", headers=parent.headers)).json()
    assert own["allergies"] == ["卵 egg"]
    staff_view = await http.get(f"/v1/children/{child}", headers=nursery.staff.headers)
    assert staff_view.json()["notes"] == "昼寝は1時間"
    listed = (await http.get("/v1/children", headers=nursery.staff.headers)).json()
    assert [c["id"] for c in listed] == [child]
    assert (await http.get("/v1/children", headers=other_nursery.headers)).json() == []
    reads = await db.fetch("SELECT actor_account_id, action, reason FROM audit WHERE action = 'child.read'")
    assert [r["actor_account_id"] for r in reads] == [nursery.staff.account_id, nursery.staff.account_id]
    assert all(r["reason"] for r in reads)


async def test_waitlist_hand_over_with_a_movable_clock(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool, clock: MovableClock, ctx: AppContext
) -> None:
    day = in_days(8)
    session_id = await session(http, nursery, day, three_five=1)
    holder, first, second = await actors.resident(), await actors.resident(), await actors.resident()
    kids: dict[int, int] = {}
    for parent in (holder, first, second):
        kids[parent.account_id] = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
    booked = (await reserve(http, holder, session_id, kids[holder.account_id])).json()
    for waiter in (first, second):
        joined = await http.post(
            "/v1/childcare/waitlist",
            json={"sessionId": session_id, "childId": kids[waiter.account_id]},
            headers=waiter.headers,
        )
        assert joined.status_code == 201, joined.text
    await http.post(f"/v1/childcare/reservations/{booked['id']}/cancel", headers=holder.headers)
    offers = await _offers(db, first)
    assert len(offers) == 1
    # The held place is not the second waiter's.
    assert_problem(await reserve(http, second, session_id, kids[second.account_id]), 409, "full")
    clock.advance(timedelta(minutes=61))
    assert await ChildcareService(ctx).expire_holds() == 1
    assert len(await _offers(db, second)) == 1
    second = await actors.login(second.email, second.account_id)
    taken = await reserve(http, second, session_id, kids[second.account_id])
    assert taken.status_code == 201, taken.text
    assert taken.json()["status"] == "reserved"
    assert (
        await db.fetchval("SELECT used FROM childcare_places WHERE session_id = $1 AND band = '3-5'", session_id) == 1
    )


async def _offers(db: asyncpg.Pool, parent: Actor) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT payload FROM outbox WHERE type = 'childcare.offered' AND topic = $1", f"user:{parent.account_id}"
    )
    return [json.loads(r["payload"]) for r in rows]


async def test_reminder_the_day_before(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool, ctx: AppContext
) -> None:
    session_id = await session(http, nursery, in_days(1))
    later = await session(http, nursery, in_days(2))
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(1), 3), approve_at=nursery)
    await reserve(http, parent, session_id, child)
    await reserve(http, parent, later, child)
    service = ChildcareService(ctx)
    assert await service.send_reminders() == 1
    assert await service.send_reminders() == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE type = 'childcare.reminder'") == 1


# -- consent before visibility: applications and approvals (issue 15, item 1) -------------------


async def test_nursery_approving_a_child_who_did_not_apply_gets_404_and_still_cannot_read_it(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 2))
    refused = assert_problem(await approve(http, nursery, child), 404)
    # The same answer as for a child id that does not exist: nothing tells the nursery the child is real.
    unknown = assert_problem(await approve(http, nursery, child + 1000), 404)
    assert refused == {**unknown, "instance": refused["instance"], "traceId": refused["traceId"]}
    assert_problem(await http.get(f"/v1/children/{child}", headers=nursery.staff.headers), 404)
    elsewhere = Nursery(await actors.organization("nursery"), nursery.staff)
    elsewhere.staff = await actors.member("nursery", "staff", elsewhere.id)
    await apply(http, parent, child, elsewhere)  # applied to another nursery, not to this one
    assert_problem(await approve(http, nursery, child), 404)
    # Naming the nursery the child did apply to does not help a nursery the caller is not staff of.
    assert_problem(
        await http.post(
            f"/v1/children/{child}/approvals", json={"nurseryId": elsewhere.id}, headers=nursery.staff.headers
        ),
        404,
    )
    assert_problem(await http.get(f"/v1/children/{child}", headers=nursery.staff.headers), 404)
    assert (await http.get("/v1/children", headers=nursery.staff.headers)).json() == []
    assert (await http.get(f"/v1/nurseries/{nursery.id}/applications", headers=nursery.staff.headers)).json() == []
    assert await db.fetchval("SELECT count(*) FROM child_approvals") == 0
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'child.read'") == 0


async def test_pending_application_shows_name_and_age_only_until_the_nursery_approves(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    today = datetime.now(TOKYO).date()
    child = await child_of(http, parent, years_before(today, 3, days=10))
    application = await apply(http, parent, child, nursery)
    assert (application["childId"], application["nurseryId"], application["status"]) == (child, nursery.id, "pending")
    listed = await http.get(f"/v1/nurseries/{nursery.id}/applications", headers=nursery.staff.headers)
    assert listed.status_code == 200, listed.text
    [pending] = listed.json()
    assert pending == {
        "id": application["id"],
        "childId": child,
        "nurseryId": nursery.id,
        "childName": "鈴木 蓮",
        "ageYears": 3,
        "appliedAt": pending["appliedAt"],
        "meetingAt": None,
    }
    assert "卵" not in listed.text
    assert "昼寝" not in listed.text
    # Applied is not approved: the record itself stays closed to the nursery.
    assert_problem(await http.get(f"/v1/children/{child}", headers=nursery.staff.headers), 404)
    approved = await approve(http, nursery, child)
    assert approved.status_code == 201, approved.text
    assert approved.json()["applicationId"] == application["id"]
    assert_problem(await approve(http, nursery, child), 409, "already-approved")
    record = (await http.get(f"/v1/children/{child}", headers=nursery.staff.headers)).json()
    assert (record["allergies"], record["approvedNurseryIds"]) == (["卵 egg"], [nursery.id])
    assert (await http.get(f"/v1/nurseries/{nursery.id}/applications", headers=nursery.staff.headers)).json() == []
    own = (await http.get(f"/v1/children/{child}/applications", headers=parent.headers)).json()
    assert [(a["id"], a["status"]) for a in own] == [(application["id"], "approved")]
    assert_problem(await http.post(f"/v1/children/{child}/applications", json={"nurseryId": nursery.id},
                                   headers=parent.headers), 409, "already-approved")  # fmt: skip
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit WHERE subject_type = 'child' ORDER BY id")]
    assert actions == ["child.apply", "child.application.read", "child.approve", "child.read"]
    events = [(r["topic"], r["type"]) for r in await db.fetch("SELECT topic, type FROM outbox ORDER BY id")]
    assert events == [
        (f"nursery:{nursery.id}", "childcare.application.created"),
        (f"user:{parent.account_id}", "childcare.application.decided"),
        (f"nursery:{nursery.id}", "childcare.application.decided"),
    ]


async def test_declined_or_withdrawn_applications_cannot_be_approved(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent, stranger = await actors.resident(), await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 4))
    first = await apply(http, parent, child, nursery)
    assert_problem(
        await http.post(f"/v1/children/{child}/applications", json={"nurseryId": nursery.id}, headers=parent.headers),
        409,
        "already-applied",
    )
    decline_url = f"/v1/children/{child}/applications/{first['id']}/decline"
    assert_problem(await http.post(decline_url, json={}, headers=nursery.staff.headers), 422)
    other_staff = await actors.member("nursery", "staff")
    assert_problem(await http.post(decline_url, json={"reason": "x"}, headers=other_staff.headers), 404)
    declined = await http.post(decline_url, json={"reason": "定員に空きがありません"}, headers=nursery.staff.headers)
    assert declined.status_code == 200, declined.text
    assert (declined.json()["status"], declined.json()["declineReason"]) == ("declined", "定員に空きがありません")
    assert_problem(await http.post(decline_url, json={"reason": "again"}, headers=nursery.staff.headers), 409)
    assert_problem(await approve(http, nursery, child), 404)

    second = await apply(http, parent, child, nursery)  # after a decline the parent may ask again
    withdraw_url = f"/v1/children/{child}/applications/{second['id']}"
    assert_problem(await http.delete(withdraw_url, headers=stranger.headers), 404)
    assert (await http.delete(withdraw_url, headers=parent.headers)).status_code == 204
    assert_problem(await http.delete(withdraw_url, headers=parent.headers), 409, "application-decided")
    assert_problem(await approve(http, nursery, child), 404)
    assert_problem(await http.get(f"/v1/children/{child}", headers=nursery.staff.headers), 404)
    own = (await http.get(f"/v1/children/{child}/applications", headers=parent.headers)).json()
    assert [a["status"] for a in own] == ["declined", "withdrawn"]
    assert_problem(await http.get(f"/v1/children/{child}/applications", headers=stranger.headers), 404)
    assert await db.fetchval("SELECT count(*) FROM child_approvals") == 0


async def test_approvals_racing_a_withdrawal_decide_exactly_once(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    colleagues = [nursery.staff] + [await actors.member("nursery", "staff", nursery.id) for _ in range(9)]
    parent = await actors.resident()
    for _ in range(5):
        child = await child_of(http, parent, years_before(in_days(3), 2))
        application = await apply(http, parent, child, nursery)
        responses = await asyncio.gather(
            http.delete(f"/v1/children/{child}/applications/{application['id']}", headers=parent.headers),
            *(approve(http, Nursery(nursery.id, staff), child) for staff in colleagues),
        )
        withdrawal, approvals = responses[0], responses[1:]
        codes = sorted(r.status_code for r in approvals)
        if withdrawal.status_code == 204:
            assert codes == [404] * 10
        else:
            assert withdrawal.status_code == 409
            assert codes == [201] + [409] * 9
    assert await db.fetchval("SELECT count(*) FROM child_approvals") == await db.fetchval(
        "SELECT count(*) FROM child_applications WHERE status = 'approved'"
    )


async def test_database_refuses_an_approval_that_answers_no_approved_application(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 2))
    pending = await apply(http, parent, child, nursery)
    insert = """
    INSERT INTO child_approvals (child_id, nursery_id, application_id, approved_by, approved_at)
    VALUES ($1, $2, $3, $4, now())
    """
    with pytest.raises(asyncpg.NotNullViolationError):
        await db.execute(insert, child, nursery.id, None, nursery.staff.account_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(insert, child, nursery.id, pending["id"], nursery.staff.account_id)
    other_nursery = await actors.organization("nursery")
    elsewhere = await db.fetchval(
        "INSERT INTO child_applications (child_id, nursery_id, status, applied_by, applied_at, decided_at)"
        " VALUES ($1, $2, 'approved', $3, now(), now()) RETURNING id",
        child,
        other_nursery,
        parent.account_id,
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # another nursery's application does not approve here
        await db.execute(insert, child, nursery.id, elsewhere, nursery.staff.account_id)
    assert (await approve(http, nursery, child)).status_code == 201
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # an answered application does not go back while approved
        await db.execute("UPDATE child_applications SET status = 'withdrawn' WHERE id = $1", pending["id"])


async def test_pending_applications_page_with_a_link_header(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery
) -> None:
    parent = await actors.resident()
    children = [await child_of(http, parent, years_before(in_days(3), 1)) for _ in range(3)]
    for child in children:
        await apply(http, parent, child, nursery)
    first = await http.get(
        f"/v1/nurseries/{nursery.id}/applications", params={"limit": 2}, headers=nursery.staff.headers
    )
    assert [a["childId"] for a in first.json()] == children[:2]
    next_url = first.links["next"]["url"]
    second = await http.get(next_url, headers=nursery.staff.headers)
    assert [a["childId"] for a in second.json()] == children[2:]
    assert "next" not in second.links
    bad_cursor = await http.get(
        f"/v1/nurseries/{nursery.id}/applications", params={"cursor": "x"}, headers=nursery.staff.headers
    )
    assert_problem(bad_cursor, 400)
