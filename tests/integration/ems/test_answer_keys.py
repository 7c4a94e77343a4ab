"""A hospital's answer to an ambulance writes its Idempotency-Key in its own statement (issue 16, as a
booking does: backend/core/command_keys.py): the key and the answer commit together or not at all,
and a retry (an ER tablet on a flaky network) gets the request as it is now, re-read through
GET /v1/ems/requests/{id} as the ER staff. One answer however many duplicates race; refusals replayed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.integration.ems.conftest import Scene, open_case, send
from tests.support import Actor, Actors, assert_key_written_by_command, assert_problem, statements

ACCEPT = {"decision": "accept", "department": "cardiology"}


async def answer(
    http: httpx.AsyncClient, staff: Actor, request_id: int, key: str, body: dict[str, Any] = ACCEPT
) -> httpx.Response:
    return await http.post(
        f"/v1/ems/requests/{request_id}/response", json=body, headers={**staff.headers, "Idempotency-Key": key}
    )


async def test_the_answer_and_its_key_are_written_together_in_three_round_trips(
    counting: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(counting, scene)
    warm, request = (r["requestId"] for r in await send(counting, scene, case["id"], scene.hospitals[:2]))
    # Once, so each statement is prepared on the connection (a pool's cost, not an answer's).
    assert (await answer(counting, scene.er[0], warm, str(uuid.uuid4()))).status_code == 201

    key = str(uuid.uuid4())
    accepted = await answer(counting, scene.er[1], request, key)
    assert accepted.status_code == 201, accepted.text
    assert statements(accepted) == 3  # the session lookup, the request's case and hospital, the answer with its key
    await assert_key_written_by_command(db, key, status=201, ref=f"/v1/ems/requests/{request}")


async def test_concurrent_duplicates_answer_once_and_all_get_the_answer(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    (request,) = (r["requestId"] for r in await send(http, scene, case["id"], scene.hospitals[:1]))
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*(answer(http, scene.er[0], request, key) for _ in range(8)))
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers if a.status_code != 201]
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7
    audited = await db.fetchval(
        "SELECT count(*) FROM audit WHERE action = 'ems.request.accepted' AND subject_id = $1", str(case["id"])
    )
    assert audited == 1


async def test_a_retry_gets_the_request_as_it_is_now_and_another_body_is_refused(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    case = await open_case(http, scene)
    (request,) = (r["requestId"] for r in await send(http, scene, case["id"], scene.hospitals[:1]))
    key = str(uuid.uuid4())
    accepted = await answer(http, scene.er[0], request, key)
    assert accepted.status_code == 201, accepted.text
    chosen = await http.post(
        f"/v1/ems/cases/{case['id']}/destination",
        json={"hospitalId": scene.hospitals[0]},
        headers=scene.paramedic.headers,
    )
    assert chosen.status_code == 201, chosen.text

    again = await answer(http, scene.er[0], request, key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**accepted.json(), "status": "selected"}
    declined = {"decision": "decline", "reason": "no_beds"}
    assert_problem(await answer(http, scene.er[0], request, key, declined), 422, "idempotency-key-reused")


async def test_a_refusal_is_replayed(http: httpx.AsyncClient, scene: Scene, actors: Actors, db: asyncpg.Pool) -> None:
    case = await open_case(http, scene)
    (request,) = (r["requestId"] for r in await send(http, scene, case["id"], scene.hospitals[:1]))
    colleague = await actors.member("hospital", "er_staff", scene.hospitals[0])
    assert (await answer(http, colleague, request, str(uuid.uuid4()))).status_code == 201
    key = str(uuid.uuid4())
    assert_problem(await answer(http, scene.er[0], request, key), 409, "request-not-open")
    again = await answer(http, scene.er[0], request, key)
    assert_problem(again, 409, "request-not-open")
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT response_status FROM idempotency_keys WHERE key = $1", key) == 409


async def test_a_request_is_read_by_its_hospitals_er_staff_only(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    (request,) = (r["requestId"] for r in await send(http, scene, case["id"], scene.hospitals[:1]))
    accepted = await answer(http, scene.er[0], request, str(uuid.uuid4()))
    assert accepted.status_code == 201, accepted.text

    shown = await http.get(f"/v1/ems/requests/{request}", headers=scene.er[0].headers)
    assert shown.status_code == 200, shown.text
    assert shown.json() == accepted.json()
    assert_problem(await http.get(f"/v1/ems/requests/{request}", headers=scene.er[1].headers), 404)
    assert_problem(await http.get("/v1/ems/requests/999999999", headers=scene.er[0].headers), 404)
    assert_problem(await http.get(f"/v1/ems/requests/{request}", headers=scene.paramedic.headers), 403)
