"""Sending a case to hospitals and a hospital's answer, each in one statement (issue 16): in a
mass-casualty incident every ambulance sends at once. Counted by the API itself, BEGIN and COMMIT
included; what each statement writes (requests, events, audit rows) is checked row by row."""

from __future__ import annotations

import json

import asyncpg
import httpx

from backend.core.topics import fire_topic, hospital_topic
from tests.integration.ems.conftest import Scene, answer, open_case, send
from tests.support import Actors, assert_problem, statements


async def test_sending_costs_two_round_trips_and_writes_a_request_and_an_event_per_new_hospital(
    counting: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    http = counting
    warm = await open_case(http, scene)  # each statement prepared once (a pool's cost, not a request's)
    url = f"/v1/ems/cases/{warm['id']}/requests"
    assert (await http.post(url, json={"hospitalIds": scene.hospitals[:1]}, headers=scene.paramedic.headers)).is_success

    case = await open_case(http, scene)
    url = f"/v1/ems/cases/{case['id']}/requests"
    first = await http.post(url, json={"hospitalIds": scene.hospitals[:2]}, headers=scene.paramedic.headers)
    assert first.status_code == 201, first.text
    assert statements(first) == 2  # the session lookup, the requests
    assert [r["hospitalId"] for r in first.json()] == scene.hospitals[:2]
    # Again to one of them and a third: the one asked before keeps its request and gets no second event.
    again = await http.post(
        url, json={"hospitalIds": [scene.hospitals[1], scene.hospitals[2]]}, headers=scene.paramedic.headers
    )
    assert again.status_code == 201, again.text
    assert [r["hospitalId"] for r in again.json()] == scene.hospitals[1:3]
    assert again.json()[0] == first.json()[1]

    created = await db.fetch(
        "SELECT topic, payload FROM outbox WHERE type = 'ems.request.created' AND payload->>'caseId' = $1 ORDER BY id",
        str(case["id"]),
    )
    requests = {r["hospitalId"]: r["requestId"] for r in [*first.json(), *again.json()]}
    assert [(e["topic"], json.loads(e["payload"])["requestId"]) for e in created] == [
        (hospital_topic(h), requests[h]) for h in scene.hospitals[:3]
    ]
    assert await sends_audited(db, case["id"]) == 2
    first_request_at = await db.fetchval("SELECT first_request_at FROM ems_cases WHERE id = $1", case["id"])
    assert first_request_at is not None


async def test_a_send_naming_what_is_not_a_hospital_writes_nothing(
    http: httpx.AsyncClient, actors: Actors, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    refused = await http.post(
        f"/v1/ems/cases/{case['id']}/requests",
        json={"hospitalIds": [scene.hospitals[0], scene.fire_department]},
        headers=scene.paramedic.headers,
    )
    assert assert_problem(refused, 422, "unknown-reference")["errors"] == [
        {"field": "$.hospitalIds[1]", "message": "Not a hospital"}
    ]
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE case_id = $1", case["id"]) == 0
    assert await db.fetchval("SELECT first_request_at FROM ems_cases WHERE id = $1", case["id"]) is None
    assert await sends_audited(db, case["id"]) == 0
    # Another crew's case is not found, whatever it names.
    stranger = await actors.member("fire_department", "paramedic", await actors.organization("fire_department"))
    other = await http.post(
        f"/v1/ems/cases/{case['id']}/requests", json={"hospitalIds": scene.hospitals[:1]}, headers=stranger.headers
    )
    assert_problem(other, 404)
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE case_id = $1", case["id"]) == 0


async def test_an_answer_costs_three_round_trips_and_tells_the_crew(
    counting: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    http = counting
    case = await open_case(http, scene)
    first, second = (r["requestId"] for r in await send(http, scene, case["id"], scene.hospitals[:2]))
    assert (await answer(http, scene.er[0], first, "decline")).status_code == 201  # each statement prepared once

    accepted = await answer(http, scene.er[1], second)
    assert accepted.status_code == 201, accepted.text
    assert statements(accepted) == 3  # the session lookup, the request's case and hospital, the answer
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["department"] == "cardiology"
    told = await db.fetch(
        "SELECT topic, payload FROM outbox WHERE type = 'ems.request.responded' AND payload->>'caseId' = $1"
        " ORDER BY id",
        str(case["id"]),
    )
    assert [(e["topic"], json.loads(e["payload"])["decision"]) for e in told] == [
        (fire_topic(scene.fire_department), "declined"),
        (fire_topic(scene.fire_department), "accepted"),
    ]
    audited = await db.fetch(
        "SELECT action, reason FROM audit WHERE action LIKE 'ems.request.%' AND subject_id = $1 ORDER BY id",
        str(case["id"]),
    )
    assert [(a["action"], a["reason"]) for a in audited] == [
        ("ems.request.declined", "no_beds"),
        ("ems.request.accepted", None),
    ]
    assert_problem(await answer(http, scene.er[1], second, "decline"), 409, "request-not-open")


async def sends_audited(db: asyncpg.Pool, case_id: int) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit WHERE action = 'ems.requests.send' AND subject_id = $1", str(case_id)
    )
    return count
