"""The meeting (面談) a nursery sets for a parent's pending application (issue 23): only that
nursery's staff, only while pending, never in the past; the parent sees it with the application."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from backend.facilities.slots import TOKYO
from tests.integration.childcare.test_childcare import Nursery, apply, approve, child_of, in_days, years_before
from tests.support import Actors, assert_problem


@pytest.fixture
async def nursery(actors: Actors) -> Nursery:
    nursery_id = await actors.organization("nursery", "ひだまり保育園", municipality_id=1)
    return Nursery(nursery_id, await actors.member("nursery", "staff", nursery_id))


def meeting_url(child_id: int, application_id: int) -> str:
    return f"/v1/children/{child_id}/applications/{application_id}/meeting"


def in_three_days_at_ten() -> datetime:
    return datetime.combine(in_days(3), datetime.min.time(), TOKYO).replace(hour=10)


async def test_nursery_sets_a_meeting_and_the_parent_sees_it_on_the_application(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 2))
    application = await apply(http, parent, child, nursery)
    assert application["meetingAt"] is None
    at = in_three_days_at_ten()
    response = await http.post(
        meeting_url(child, application["id"]), json={"meetingAt": at.isoformat()}, headers=nursery.staff.headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], datetime.fromisoformat(response.json()["meetingAt"])) == ("pending", at)

    # A later time replaces the first one.
    moved = at + timedelta(days=1, hours=4)
    response = await http.post(
        meeting_url(child, application["id"]), json={"meetingAt": moved.isoformat()}, headers=nursery.staff.headers
    )
    assert response.status_code == 200, response.text

    [own] = (await http.get(f"/v1/children/{child}/applications", headers=parent.headers)).json()
    assert (own["status"], datetime.fromisoformat(own["meetingAt"]), own["nurseryName"]) == (
        "pending",
        moved,
        "ひだまり保育園",
    )
    [pending] = (await http.get(f"/v1/nurseries/{nursery.id}/applications", headers=nursery.staff.headers)).json()
    assert datetime.fromisoformat(pending["meetingAt"]) == moved

    events = [
        (r["topic"], r["type"])
        for r in await db.fetch(
            "SELECT topic, type FROM outbox WHERE type = 'childcare.application.meeting' ORDER BY id"
        )
    ]
    assert events == [(f"user:{parent.account_id}", "childcare.application.meeting"),
                      (f"nursery:{nursery.id}", "childcare.application.meeting")] * 2  # fmt: skip
    audit = await db.fetch("SELECT actor_account_id, subject_id FROM audit WHERE action = 'child.application.meeting'")
    assert [(r["actor_account_id"], r["subject_id"]) for r in audit] == [(nursery.staff.account_id, str(child))] * 2


async def test_another_nursery_can_not_set_a_meeting_404(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 4))
    application = await apply(http, parent, child, nursery)
    stranger = await actors.member("nursery", "staff")
    body = {"meetingAt": in_three_days_at_ten().isoformat()}
    assert_problem(await http.post(meeting_url(child, application["id"]), json=body, headers=stranger.headers), 404)
    # Nor under another child's id, nor for an application that does not exist.
    other = await child_of(http, parent, years_before(in_days(3), 4))
    assert_problem(
        await http.post(meeting_url(other, application["id"]), json=body, headers=nursery.staff.headers), 404
    )
    assert_problem(await http.post(meeting_url(child, 999_999), json=body, headers=nursery.staff.headers), 404)
    assert await db.fetchval("SELECT count(*) FROM child_applications WHERE meeting_at IS NOT NULL") == 0


async def test_a_meeting_in_the_past_or_without_an_offset_gets_422(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(in_days(3), 1))
    application = await apply(http, parent, child, nursery)
    url = meeting_url(child, application["id"])
    past = datetime.now(TOKYO) - timedelta(hours=1)
    problem = assert_problem(
        await http.post(url, json={"meetingAt": past.isoformat()}, headers=nursery.staff.headers), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["$.meetingAt"]
    naive = in_three_days_at_ten().replace(tzinfo=None).isoformat()
    assert_problem(await http.post(url, json={"meetingAt": naive}, headers=nursery.staff.headers), 422)
    assert_problem(await http.post(url, json={}, headers=nursery.staff.headers), 422)
    # The approval refuses a past meeting the same way, and approves nothing.
    refused = await http.post(
        f"/v1/children/{child}/approvals",
        json={"nurseryId": nursery.id, "meetingAt": past.isoformat()},
        headers=nursery.staff.headers,
    )
    assert_problem(refused, 422)
    assert await db.fetchval("SELECT status FROM child_applications WHERE id = $1", application["id"]) == "pending"
    assert await db.fetchval("SELECT meeting_at FROM child_applications WHERE id = $1", application["id"]) is None


async def test_a_meeting_for_an_answered_application_gets_409(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery
) -> None:
    parent = await actors.resident()
    body = {"meetingAt": in_three_days_at_ten().isoformat()}
    declined_child = await child_of(http, parent, years_before(in_days(3), 3))
    declined = await apply(http, parent, declined_child, nursery)
    answer = await http.post(
        f"/v1/children/{declined_child}/applications/{declined['id']}/decline",
        json={"reason": "定員に空きがありません"},
        headers=nursery.staff.headers,
    )
    assert answer.status_code == 200, answer.text
    assert_problem(
        await http.post(meeting_url(declined_child, declined["id"]), json=body, headers=nursery.staff.headers),
        409,
        "application-decided",
    )
    approved_child = await child_of(http, parent, years_before(in_days(3), 3))
    approved = await apply(http, parent, approved_child, nursery)
    assert (await approve(http, nursery, approved_child)).status_code == 201
    assert_problem(
        await http.post(meeting_url(approved_child, approved["id"]), json=body, headers=nursery.staff.headers),
        409,
        "application-decided",
    )


async def test_the_approval_can_carry_the_meeting_and_keeps_one_set_before(
    http: httpx.AsyncClient, actors: Actors, nursery: Nursery, db: asyncpg.Pool
) -> None:
    parent = await actors.resident()
    at = in_three_days_at_ten()
    child = await child_of(http, parent, years_before(in_days(3), 2))
    application = await apply(http, parent, child, nursery)
    approved = await http.post(
        f"/v1/children/{child}/approvals",
        json={"nurseryId": nursery.id, "meetingAt": at.isoformat()},
        headers=nursery.staff.headers,
    )
    assert approved.status_code == 201, approved.text
    assert datetime.fromisoformat(approved.json()["meetingAt"]) == at
    [own] = (await http.get(f"/v1/children/{child}/applications", headers=parent.headers)).json()
    assert (own["id"], own["status"], datetime.fromisoformat(own["meetingAt"])) == (application["id"], "approved", at)
    types = [r["type"] for r in await db.fetch("SELECT type FROM outbox WHERE topic = $1 ORDER BY id",
                                                f"user:{parent.account_id}")]  # fmt: skip
    assert types == ["childcare.application.decided", "childcare.application.meeting"]

    # An approval without a time keeps the meeting set while the application was pending.
    second = await child_of(http, parent, years_before(in_days(3), 2))
    pending = await apply(http, parent, second, nursery)
    set_first = await http.post(
        meeting_url(second, pending["id"]), json={"meetingAt": at.isoformat()}, headers=nursery.staff.headers
    )
    assert set_first.status_code == 200, set_first.text
    approved = await approve(http, nursery, second)
    assert approved.status_code == 201, approved.text
    assert datetime.fromisoformat(approved.json()["meetingAt"]) == at
