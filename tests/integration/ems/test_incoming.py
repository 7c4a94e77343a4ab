"""GET /v1/ems/incoming: the destination ER sees the patient coming — ETA, every vitals set, the
photos — and nobody else does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.integration.ems.conftest import PNG, Scene, answer, open_case, send
from tests.support import Actors, assert_problem


async def _bound_for_first_hospital(http: httpx.AsyncClient, scene: Scene) -> dict[str, object]:
    """A case asked of hospitals 0 and 1, both accepting, destination hospital 0 (1 is released)."""
    case = await open_case(http, scene)
    requests = await send(http, scene, case["id"], scene.hospitals[:2])
    for staff, request in zip(scene.er[:2], requests, strict=True):
        assert (await answer(http, staff, request["requestId"])).status_code == 201
    chosen = await http.post(
        f"/v1/ems/cases/{case['id']}/destination",
        json={"hospitalId": scene.hospitals[0]},
        headers=scene.paramedic.headers,
    )
    assert chosen.status_code == 201, chosen.text
    return case


async def test_destination_er_sees_the_patient_with_eta_every_vitals_set_and_photos(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await _bound_for_first_hospital(http, scene)
    taken = datetime.now(UTC)  # after the opening set
    later = await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": taken.isoformat(), "sbp": 102, "dbp": 64, "hr": 104, "rr": 20, "spo2": 95, "temp": 37.1},
        headers=scene.paramedic.headers,
    )
    assert later.status_code == 201, later.text
    photo = await http.post(
        f"/v1/ems/cases/{case['id']}/attachments",
        content=PNG,
        headers={**scene.paramedic.headers, "content-type": "image/png"},
    )
    assert photo.status_code == 201, photo.text

    response = await http.get("/v1/ems/incoming", headers=scene.er[0].headers)
    assert response.status_code == 200, response.text
    [patient] = response.json()
    assert patient["caseId"] == case["id"]
    assert patient["hospitalId"] == scene.hospitals[0]
    assert patient["department"] == "cardiology"
    assert patient["allergies"] == ["penicillin"]
    assert patient["etaMinutes"] == 12
    eta_at = datetime.fromisoformat(patient["etaAt"])
    assert eta_at - datetime.fromisoformat(patient["openedAt"]) == timedelta(minutes=12)
    assert [v["hr"] for v in patient["vitals"]] == [118, 104]  # oldest first, newest last
    assert patient["latestVitals"]["sbp"] == 102
    assert patient["latestVitals"]["temp"] == 37.1
    assert [a["id"] for a in patient["attachments"]] == [photo.json()["id"]]
    # The destination's ER may fetch the photo itself; that read is audited too.
    fetched = await http.get(
        f"/v1/ems/cases/{case['id']}/attachments/{photo.json()['id']}", headers=scene.er[0].headers
    )
    assert fetched.content == PNG

    listed = await db.fetchval(
        "SELECT count(*) FROM audit WHERE action = 'ems.case.incoming' AND subject_id = $1", str(case["id"])
    )
    assert listed == 1
    # New vitals and photos reach the destination live, ids only.
    updates = await db.fetch("SELECT topic, payload FROM outbox WHERE type = 'ems.case.updated' ORDER BY id")
    assert [u["topic"] for u in updates] == [f"hospital:{scene.hospitals[0]}"] * 2
    assert set(json.loads(updates[0]["payload"])) == {"type", "caseId", "hospitalId"}


async def test_released_and_other_hospitals_get_nothing_and_404_on_the_case(
    http: httpx.AsyncClient, scene: Scene, actors: Actors
) -> None:
    case = await _bound_for_first_hospital(http, scene)
    released, never_asked = scene.er[1], scene.er[3]
    for staff in (released, never_asked):
        assert (await http.get("/v1/ems/incoming", headers=staff.headers)).json() == []
        assert_problem(await http.get(f"/v1/ems/cases/{case['id']}", headers=staff.headers), 404)
    # Naming a hospital one is not staff of is 404 too, as anywhere else.
    other = await http.get(f"/v1/ems/incoming?hospitalId={scene.hospitals[0]}", headers=released.headers)
    assert_problem(other, 404)
    mine = await http.get(f"/v1/ems/incoming?hospitalId={scene.hospitals[0]}", headers=scene.er[0].headers)
    assert [p["caseId"] for p in mine.json()] == [case["id"]]
    # Paramedics and residents are not ER staff.
    assert_problem(await http.get("/v1/ems/incoming", headers=scene.paramedic.headers), 403)
    assert_problem(await http.get("/v1/ems/incoming", headers=(await actors.resident()).headers), 403)


async def test_accepted_but_not_chosen_is_not_incoming_and_a_handed_over_case_leaves(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    case = await open_case(http, scene)
    [request] = await send(http, scene, case["id"], scene.hospitals[:1])
    assert (await answer(http, scene.er[0], request["requestId"])).status_code == 201
    assert (await http.get("/v1/ems/incoming", headers=scene.er[0].headers)).json() == []
    await http.post(
        f"/v1/ems/cases/{case['id']}/destination",
        json={"hospitalId": scene.hospitals[0]},
        headers=scene.paramedic.headers,
    )
    assert len((await http.get("/v1/ems/incoming", headers=scene.er[0].headers)).json()) == 1
    closed = await http.post(
        f"/v1/ems/cases/{case['id']}/close", json={"outcome": "handed_over"}, headers=scene.paramedic.headers
    )
    assert closed.status_code == 200, closed.text
    assert (await http.get("/v1/ems/incoming", headers=scene.er[0].headers)).json() == []


async def test_bad_query_parameters_get_400_problems(http: httpx.AsyncClient, scene: Scene) -> None:
    for query in ("hospitalId=abc", "hospitalId=0", "limit=0", "limit=999"):
        assert_problem(await http.get(f"/v1/ems/incoming?{query}", headers=scene.er[0].headers), 400)


async def test_vitals_before_a_destination_tell_no_hospital(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    await send(http, scene, case["id"], scene.hospitals[:1])
    added = await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": datetime.now(UTC).isoformat(), "hr": 90},
        headers=scene.paramedic.headers,
    )
    assert added.status_code == 201
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE type = 'ems.case.updated'") == 0
