"""Hospital departments and the fire department's case list and closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.integration.ems.conftest import Scene, answer, open_case, send
from tests.support import Actors, assert_problem, table_counts

UNTIL = (datetime.now(UTC) + timedelta(hours=2)).isoformat()


async def test_hospital_admin_runs_the_department_list_that_board_and_answers_use(
    http: httpx.AsyncClient, actors: Actors, scene: Scene, db: asyncpg.Pool
) -> None:
    hospital, er = scene.hospitals[0], scene.er[0]
    admin = await actors.member("hospital", "admin", hospital)
    url = f"/v1/hospitals/{hospital}/departments"
    assert_problem(await http.post(url, json={"department": "cardiology"}, headers=admin.headers), 409,
                   "department-exists")  # fmt: skip
    board = f"/v1/hospitals/{hospital}/board/cardiology"
    assert (await http.put(board, json={"status": "accepting", "until": UNTIL}, headers=er.headers)).is_success

    assert (await http.delete(f"{url}/cardiology", headers=admin.headers)).status_code == 204
    listed = await http.get(url, headers=er.headers)
    assert "cardiology" not in [d["department"] for d in listed.json()]
    # Off the board at once, and neither the board nor an answer may name it.
    hospitals = (await http.get("/v1/hospitals/board", headers=scene.paramedic.headers)).json()
    assert next(h for h in hospitals if h["hospitalId"] == hospital)["departments"] == []
    before = await table_counts(db)
    refused = await http.put(board, json={"status": "accepting", "until": UNTIL}, headers=er.headers)
    assert assert_problem(refused, 422, "unknown-department")["errors"][0]["field"] == "department"
    assert await table_counts(db) == before
    case = await open_case(http, scene)
    [request, *_] = await send(http, scene, case["id"], [hospital])
    before = await table_counts(db)
    problem = assert_problem(await answer(http, er, request["requestId"]), 422, "unknown-department")
    assert problem["errors"][0]["field"] == "$.department"
    assert await table_counts(db) == before
    assert (await answer(http, er, request["requestId"], department="emergency")).status_code == 201

    # Brought back, with the hospital's own name.
    again = await http.post(url, json={"department": "cardiology", "name": "循環器内科"}, headers=admin.headers)
    assert again.status_code == 201, again.text
    assert (again.json()["name"], again.json()["retiredAt"]) == ("循環器内科", None)
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit WHERE subject_type = 'organization'")]
    assert actions == ["hospital.department.retire", "hospital.department.create"]


async def test_departments_are_managed_by_the_hospitals_own_admin_only(
    http: httpx.AsyncClient, actors: Actors, scene: Scene
) -> None:
    other_admin = await actors.member("hospital", "admin", scene.hospitals[1])
    url = f"/v1/hospitals/{scene.hospitals[0]}/departments"
    assert_problem(await http.post(url, json={"department": "burns"}, headers=scene.er[0].headers), 403)
    assert_problem(await http.delete(f"{url}/burns", headers=other_admin.headers), 404)
    assert_problem(await http.get(url, headers=other_admin.headers), 404)
    assert_problem(await http.post(url, json={"department": "astrology"}, headers=other_admin.headers), 422)


async def test_fire_department_lists_its_cases_by_day_and_state(
    http: httpx.AsyncClient, actors: Actors, scene: Scene, db: asyncpg.Pool
) -> None:
    first = await open_case(http, scene)
    opened = await db.fetchval(
        "UPDATE ems_cases SET opened_at = opened_at - interval '1 day' WHERE id = $1 RETURNING opened_at", first["id"]
    )
    second = await open_case(http, scene)
    [request, *_] = await send(http, scene, second["id"], [scene.hospitals[0]])
    assert (await answer(http, scene.er[0], request["requestId"])).status_code == 201
    destination = await http.post(
        f"/v1/ems/cases/{second['id']}/destination", json={"hospitalId": scene.hospitals[0]},
        headers=scene.paramedic.headers,
    )  # fmt: skip
    assert destination.status_code == 201
    await db.execute("DELETE FROM audit")
    url = f"/v1/fire-departments/{scene.fire_department}/cases"

    yesterday = opened.astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat()
    day = await http.get(url, params={"date": yesterday}, headers=scene.paramedic.headers)
    assert day.status_code == 200, day.text
    assert [(c["id"], c["state"]) for c in day.json()] == [(first["id"], "open")]
    transporting = await http.get(url, params={"state": "transporting"}, headers=scene.paramedic.headers)
    [item] = transporting.json()
    assert (item["id"], item["destinationHospitalId"], item["inquiries"]) == (second["id"], scene.hospitals[0], 1)
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'ems.case.list'") == 2
    other = await actors.member("fire_department", "paramedic")
    assert_problem(await http.get(url, headers=other.headers), 404)
    assert_problem(await http.get(url, headers=scene.er[0].headers), 403)


async def test_closing_not_transported_releases_the_hospitals_and_ends_the_case(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    await send(http, scene, case["id"], scene.hospitals[:2])
    url = f"/v1/ems/cases/{case['id']}/close"
    assert_problem(await http.post(url, json={"outcome": "not_transported"}, headers=scene.paramedic.headers), 422)
    assert_problem(await http.post(url, json={"outcome": "handed_over"}, headers=scene.paramedic.headers), 409,
                   "no-destination")  # fmt: skip
    closed = await http.post(url, json={"outcome": "not_transported", "reason": "搬送拒否 refused transport"},
                             headers=scene.paramedic.headers)  # fmt: skip
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["outcome"]) == ("closed", "not_transported")
    # The hospitals asked lose the case at once; nothing more can be sent.
    assert_problem(await http.get(f"/v1/ems/cases/{case['id']}", headers=scene.er[0].headers), 404)
    assert (await http.get("/v1/ems/inbox", headers=scene.er[1].headers)).json() == []
    released = await db.fetch("SELECT topic FROM outbox WHERE type = 'ems.request.released' ORDER BY topic")
    assert sorted(r["topic"] for r in released) == sorted(f"hospital:{h}" for h in scene.hospitals[:2])
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE type = 'ems.case.closed'") == 1
    resend = await http.post(f"/v1/ems/cases/{case['id']}/requests", json={"hospitalIds": [scene.hospitals[2]]},
                             headers=scene.paramedic.headers)  # fmt: skip
    assert_problem(resend, 409, "case-closed")
    assert_problem(await http.post(url, json={"outcome": "not_transported", "reason": "x"},
                                   headers=scene.paramedic.headers), 409, "already-closed")  # fmt: skip


async def test_a_case_is_handed_over_at_its_destination(
    http: httpx.AsyncClient, scene: Scene, actors: Actors, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    [request, *_] = await send(http, scene, case["id"], [scene.hospitals[0]])
    assert (await answer(http, scene.er[0], request["requestId"])).status_code == 201
    assert (await http.post(f"/v1/ems/cases/{case['id']}/destination", json={"hospitalId": scene.hospitals[0]},
                            headers=scene.paramedic.headers)).status_code == 201  # fmt: skip
    chief = await actors.member("fire_department", "admin", scene.fire_department)
    closed = await http.post(f"/v1/ems/cases/{case['id']}/close", json={"outcome": "handed_over"},
                             headers=chief.headers)  # fmt: skip
    assert closed.status_code == 200, closed.text
    assert closed.json()["outcome"] == "handed_over"
    topics = {r["topic"] for r in await db.fetch("SELECT topic FROM outbox WHERE type = 'ems.case.closed'")}
    assert topics == {f"fire:{scene.fire_department}", f"hospital:{scene.hospitals[0]}"}
    stranger = await actors.member("fire_department", "paramedic")
    assert_problem(await http.post(f"/v1/ems/cases/{case['id']}/close", json={"outcome": "handed_over"},
                                   headers=stranger.headers), 404)  # fmt: skip
