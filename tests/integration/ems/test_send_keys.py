"""A crew's send to hospitals writes its Idempotency-Key in its own statement (issue 16, as a booking
does: backend/core/command_keys.py): one key row for the whole send, committed with the requests or
not at all, and a retry (a paramedic's phone on a flaky network) gets the case's requests to those
hospitals as they are now, re-read through GET /v1/ems/cases/{id}/requests?hospitalIds=… as the crew.
One send however many duplicates race; refusals replayed."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from tests.integration.ems.conftest import Scene, answer, open_case
from tests.support import Actors, assert_key_written_by_command, assert_problem, statements


async def send(http: httpx.AsyncClient, scene: Scene, case_id: int, hospitals: list[int], key: str) -> httpx.Response:
    return await http.post(
        f"/v1/ems/cases/{case_id}/requests",
        json={"hospitalIds": hospitals},
        headers={**scene.paramedic.headers, "Idempotency-Key": key},
    )


async def test_the_requests_and_their_key_are_written_together_in_two_round_trips(
    counting: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    warm = await open_case(counting, scene)  # each statement prepared once (a pool's cost, not a send's)
    assert (await send(counting, scene, warm["id"], scene.hospitals[:1], str(uuid.uuid4()))).status_code == 201

    case = await open_case(counting, scene)
    key = str(uuid.uuid4())
    hospitals = [scene.hospitals[2], scene.hospitals[0]]
    sent = await send(counting, scene, case["id"], hospitals, key)
    assert sent.status_code == 201, sent.text
    assert statements(sent) == 2  # the session lookup, the requests with their key
    assert [r["hospitalId"] for r in sent.json()] == hospitals
    ref = f"/v1/ems/cases/{case['id']}/requests?hospitalIds={hospitals[0]}&hospitalIds={hospitals[1]}"
    await assert_key_written_by_command(db, key, status=201, ref=ref)


async def test_concurrent_duplicates_send_once_and_all_get_the_requests(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*(send(http, scene, case["id"], scene.hospitals[:3], key) for _ in range(8)))
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers if a.status_code != 201]
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE case_id = $1", case["id"]) == 3
    audited = await db.fetchval(
        "SELECT count(*) FROM audit WHERE action = 'ems.requests.send' AND subject_id = $1", str(case["id"])
    )
    assert audited == 1


async def test_a_retry_gets_the_requests_as_they_are_now_and_another_body_is_refused(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    case = await open_case(http, scene)
    key = str(uuid.uuid4())
    sent = await send(http, scene, case["id"], scene.hospitals[:2], key)
    assert sent.status_code == 201, sent.text
    first, second = sent.json()
    accepted = await answer(http, scene.er[1], second["requestId"])
    assert accepted.status_code == 201, accepted.text

    again = await send(http, scene, case["id"], scene.hospitals[:2], key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == [first, accepted.json()]
    assert_problem(await send(http, scene, case["id"], scene.hospitals[:3], key), 422, "idempotency-key-reused")


async def test_a_refusal_is_replayed(http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool) -> None:
    case = await open_case(http, scene)
    key = str(uuid.uuid4())
    refused = await send(http, scene, case["id"], [scene.hospitals[0], scene.fire_department], key)
    assert_problem(refused, 422, "unknown-reference")
    again = await send(http, scene, case["id"], [scene.hospitals[0], scene.fire_department], key)
    assert_problem(again, 422, "unknown-reference")
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE case_id = $1", case["id"]) == 0


async def test_a_cases_requests_are_read_by_its_crew_only(
    http: httpx.AsyncClient, scene: Scene, actors: Actors
) -> None:
    case = await open_case(http, scene)
    sent = await send(http, scene, case["id"], scene.hospitals[:3], str(uuid.uuid4()))
    assert sent.status_code == 201, sent.text
    url = f"/v1/ems/cases/{case['id']}/requests"

    every = await http.get(url, headers=scene.paramedic.headers)
    assert every.status_code == 200, every.text
    assert every.json() == sent.json()
    some = await http.get(url, params={"hospitalIds": [scene.hospitals[2]]}, headers=scene.paramedic.headers)
    assert some.json() == sent.json()[2:]
    # Another fire department's paramedic, and an ER (which sees its own requests in its inbox).
    other_fire = await actors.organization("fire_department")
    stranger = await actors.member("fire_department", "paramedic", other_fire)
    assert_problem(await http.get(url, headers=stranger.headers), 404)
    assert_problem(await http.get(url, headers=scene.er[0].headers), 403)
    assert_problem(await http.get("/v1/ems/cases/999999999/requests", headers=scene.paramedic.headers), 404)
    for bad in ("0", "x", str(2**64)):
        assert_problem(await http.get(url, params={"hospitalIds": bad}, headers=scene.paramedic.headers), 400)
    # An open case without requests yet: an empty list, not 404.
    fresh = await open_case(http, scene)
    empty = await http.get(f"/v1/ems/cases/{fresh['id']}/requests", headers=scene.paramedic.headers)
    assert empty.status_code == 200
    assert empty.json() == []
