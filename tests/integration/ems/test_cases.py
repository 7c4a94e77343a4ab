from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.ems.service import EmsService
from tests.integration.ems.conftest import JPEG, PNG, Scene, answer, case_body, open_case, send
from tests.support import Actors, assert_problem


async def test_paramedic_opens_a_case_and_the_crew_reads_it(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    assert case["fireDepartmentId"] == scene.fire_department
    assert case["jcs"] == "I-1"
    assert case["gcs"] == {"e": 4, "v": 4, "m": 6}
    assert case["vitals"][0]["spo2"] == 91
    read = await http.get(f"/v1/ems/cases/{case['id']}", headers=scene.paramedic.headers)
    assert read.status_code == 200
    assert read.json()["chiefComplaint"].startswith("胸痛")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"vitals": {"spo2": 101}}, "$.vitals.spo2"),
        ({"vitals": {"sbp": -5}}, "$.vitals.sbp"),
        ({"vitals": {"temp": 52.0}}, "$.vitals.temp"),
        ({"jcs": "II-15"}, "$.jcs"),
        ({"jcs": "300"}, "$.jcs"),
        ({"gcs": {"e": 5, "v": 4, "m": 6}}, "$.gcs.e"),
        ({"gcs": {"e": 4, "v": 4, "m": 0}}, "$.gcs.m"),
        ({"estimatedAge": 200}, "$.estimatedAge"),
        ({"sex": "x"}, "$.sex"),
    ],
)
async def test_out_of_range_values_get_422_with_field_paths(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool, overrides: dict[str, object], field: str
) -> None:
    response = await http.post("/v1/ems/cases", json=case_body(**overrides), headers=scene.paramedic.headers)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    assert await db.fetchval("SELECT count(*) FROM ems_cases") == 0


async def test_vitals_over_time(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    taken = datetime.now(UTC).isoformat()
    added = await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": taken, "hr": 124, "spo2": 89},
        headers=scene.paramedic.headers,
    )
    assert added.status_code == 201, added.text
    bad = await http.post(
        f"/v1/ems/cases/{case['id']}/vitals", json={"takenAt": taken, "rr": 99}, headers=scene.paramedic.headers
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "$.rr"
    read = (await http.get(f"/v1/ems/cases/{case['id']}", headers=scene.paramedic.headers)).json()
    assert [v["hr"] for v in read["vitals"]] == [118, 124]


async def test_photos_are_checked_by_content(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    url = f"/v1/ems/cases/{case['id']}/attachments"
    png = await http.post(url, content=PNG, headers={**scene.paramedic.headers, "content-type": "image/png"})
    jpeg = await http.post(url, content=JPEG, headers={**scene.paramedic.headers, "content-type": "image/jpeg"})
    assert png.status_code == jpeg.status_code == 201
    assert png.json()["mediaType"] == "image/png"
    disguised = await http.post(
        url, content=b"%PDF-1.7 not a photo", headers={**scene.paramedic.headers, "content-type": "image/png"}
    )
    assert assert_problem(disguised, 422, "not-an-image")["errors"][0]["field"] == "$"
    mislabelled = await http.post(url, content=PNG, headers={**scene.paramedic.headers, "content-type": "image/jpeg"})
    assert_problem(mislabelled, 422)
    huge = await http.post(
        url, content=PNG + b"\0" * (6 * 1024 * 1024), headers={**scene.paramedic.headers, "content-type": "image/png"}
    )
    assert_problem(huge, 413)
    photo = await http.get(f"{url}/{png.json()['id']}", headers=scene.paramedic.headers)
    assert photo.content == PNG
    assert photo.headers["content-type"] == "image/png"


async def test_one_call_reaches_every_hospital_inbox(http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool) -> None:
    case = await open_case(http, scene)
    requests = await send(http, scene, case["id"], scene.hospitals[:3])
    assert [(r["hospitalId"], r["status"]) for r in requests] == [(h, "pending") for h in scene.hospitals[:3]]
    for staff, hospital in zip(scene.er[:3], scene.hospitals[:3], strict=True):
        inbox = (await http.get("/v1/ems/inbox", headers=staff.headers)).json()
        assert [(i["caseId"], i["estimatedAge"], i["jcs"]) for i in inbox] == [(case["id"], 70, "I-1")]
        assert (await http.get(f"/v1/ems/cases/{case['id']}", headers=staff.headers)).status_code == 200
        del hospital
    assert (await http.get("/v1/ems/inbox", headers=scene.er[3].headers)).json() == []
    events = await db.fetch("SELECT topic, payload FROM outbox WHERE type = 'ems.request.created' ORDER BY id")
    assert [e["topic"] for e in events] == [f"hospital:{h}" for h in scene.hospitals[:3]]
    for event in events:  # ids only: no complaint, age or sex travels in an event
        assert set(json.loads(event["payload"])) == {"type", "requestId", "caseId"}


async def test_outsiders_get_404(http: httpx.AsyncClient, actors: Actors, scene: Scene) -> None:
    case = await open_case(http, scene)
    other_crew = await actors.member("fire_department", "paramedic")
    bystander_er = scene.er[3]  # a hospital never asked
    for outsider in (other_crew, bystander_er):
        assert_problem(await http.get(f"/v1/ems/cases/{case['id']}", headers=outsider.headers), 404)
        assert_problem(await http.get(f"/v1/ems/cases/{case['id']}/fhir", headers=outsider.headers), 404)
    assert_problem(
        await http.post(
            f"/v1/ems/cases/{case['id']}/vitals",
            json={"takenAt": datetime.now(UTC).isoformat(), "hr": 80},
            headers=other_crew.headers,
        ),
        404,
    )
    resident = await actors.resident()
    assert_problem(await http.get(f"/v1/ems/cases/{case['id']}", headers=resident.headers), 403)


async def test_concurrent_confirmations_give_exactly_one_destination_and_release_the_rest(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    requests = await send(http, scene, case["id"], scene.hospitals[:3])
    for staff, request in zip(scene.er[:2], requests[:2], strict=True):
        assert (await answer(http, staff, request["requestId"])).status_code == 201
    confirms = await asyncio.gather(
        *(
            http.post(
                f"/v1/ems/cases/{case['id']}/destination",
                json={"hospitalId": hospital},
                headers=scene.paramedic.headers,
            )
            for hospital in (scene.hospitals[0], scene.hospitals[1], scene.hospitals[0], scene.hospitals[1])
        )
    )
    assert sorted(r.status_code for r in confirms) == [201, 409, 409, 409]
    chosen = next(r.json()["hospitalId"] for r in confirms if r.status_code == 201)
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE status = 'selected'") == 1
    for staff, hospital in zip(scene.er[:3], scene.hospitals[:3], strict=True):
        response = await http.get(f"/v1/ems/cases/{case['id']}", headers=staff.headers)
        assert response.status_code == (200 if hospital == chosen else 404)
    released = await db.fetch("SELECT topic FROM outbox WHERE type = 'ems.request.released' ORDER BY id")
    assert {r["topic"] for r in released} == {f"hospital:{h}" for h in scene.hospitals[:3] if h != chosen}


async def test_answers_need_reasons_and_departments(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    [request] = await send(http, scene, case["id"], scene.hospitals[:1])
    url = f"/v1/ems/requests/{request['requestId']}/response"
    no_reason = await http.post(url, json={"decision": "decline"}, headers=scene.er[0].headers)
    assert assert_problem(no_reason, 422)["errors"][0]["field"] == "$.reason"
    bad_reason = await http.post(url, json={"decision": "decline", "reason": "busy"}, headers=scene.er[0].headers)
    assert assert_problem(bad_reason, 422)["errors"][0]["field"] == "$.reason"
    no_department = await http.post(url, json={"decision": "accept"}, headers=scene.er[0].headers)
    assert assert_problem(no_department, 422)["errors"][0]["field"] == "$.department"
    other_hospital = await answer(http, scene.er[1], request["requestId"])
    assert_problem(other_hospital, 404)
    declined = await answer(http, scene.er[0], request["requestId"], "decline", reason="treating_another_patient")
    assert declined.json()["reason"] == "treating_another_patient"
    assert_problem(await answer(http, scene.er[0], request["requestId"]), 409, "request-not-open")
    # A declining hospital is out of the case.
    assert_problem(await http.get(f"/v1/ems/cases/{case['id']}", headers=scene.er[0].headers), 404)
    not_accepted = await http.post(
        f"/v1/ems/cases/{case['id']}/destination",
        json={"hospitalId": scene.hospitals[0]},
        headers=scene.paramedic.headers,
    )
    assert_problem(not_accepted, 409, "not-accepted")


async def test_fhir_bundle_validates_as_r4(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    requests = await send(http, scene, case["id"], scene.hospitals[:2])
    await answer(http, scene.er[0], requests[0]["requestId"])
    await answer(http, scene.er[1], requests[1]["requestId"], "decline", reason="no_specialist")
    await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": datetime.now(UTC).isoformat(), "sbp": 95, "dbp": 60},
        headers=scene.paramedic.headers,
    )
    response = await http.get(f"/v1/ems/cases/{case['id']}/fhir", headers=scene.paramedic.headers)
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "document"
    resources = [entry.resource for entry in bundle.entry]
    composition = resources[0]
    assert composition.get_resource_type() == "Composition"
    assert composition.type.coding[0].code == "67796-3"
    by_code = {r.code.coding[0].code: r for r in resources if r.get_resource_type() == "Observation"}
    assert {"30525-0", "9269-2", "JCS", "85354-9", "8867-4", "9279-1", "2708-6", "8310-5"} <= set(by_code)
    gcs = by_code["9269-2"]
    assert gcs.valueInteger == 14
    assert [c.code.coding[0].code for c in gcs.component] == ["9267-6", "9270-0", "9268-4"]
    assert by_code["JCS"].valueCodeableConcept.coding[0].code == "I-1"
    tasks = [r for r in resources if r.get_resource_type() == "Task"]
    assert sorted(t.status for t in tasks) == ["accepted", "rejected"]
    assert next(t for t in tasks if t.status == "rejected").statusReason.coding[0].code == "no_specialist"
    # Every reference points at an entry of the same document.
    urls = {entry.fullUrl for entry in bundle.entry}
    assert all(ref in urls for ref in _references(response.json()))


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for value in node for r in _references(value)]
    return []


async def test_every_read_is_audited(http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool) -> None:
    case = await open_case(http, scene)
    [request] = await send(http, scene, case["id"], scene.hospitals[:1])
    await http.get("/v1/ems/inbox", headers=scene.er[0].headers)
    await http.get(f"/v1/ems/cases/{case['id']}", headers=scene.er[0].headers)
    await http.get(f"/v1/ems/cases/{case['id']}/fhir", headers=scene.paramedic.headers)
    await http.get(f"/v1/ems/cases/{case['id']}", headers=scene.er[1].headers)  # refused: no audit row
    rows = await db.fetch(
        "SELECT actor_account_id, action FROM audit WHERE subject_type = 'ems_case' AND subject_id = $1 ORDER BY id",
        str(case["id"]),
    )
    assert [(r["actor_account_id"], r["action"]) for r in rows] == [
        (scene.paramedic.account_id, "ems.case.create"),
        (scene.paramedic.account_id, "ems.requests.send"),
        (scene.er[0].account_id, "ems.case.inbox"),
        (scene.er[0].account_id, "ems.case.read"),
        (scene.paramedic.account_id, "ems.case.fhir_export"),
    ]
    del request


async def test_unanswered_requests_are_realerted(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool, clock: MovableClock, ctx: AppContext
) -> None:
    case = await open_case(http, scene)
    requests = await send(http, scene, case["id"], scene.hospitals[:2])
    await answer(http, scene.er[0], requests[0]["requestId"])
    service = EmsService(ctx)
    assert await service.realert_unanswered() == 0
    clock.advance(timedelta(seconds=121))
    assert await service.realert_unanswered() == 1
    assert await service.realert_unanswered() == 0  # not again until another interval passes
    clock.advance(timedelta(seconds=121))
    assert await service.realert_unanswered() == 1
    events = await db.fetch("SELECT topic, payload FROM outbox WHERE type = 'ems.request.realerted' ORDER BY id")
    assert [(e["topic"], json.loads(e["payload"])["count"]) for e in events] == [
        (f"hospital:{scene.hospitals[1]}", 1),
        (f"hospital:{scene.hospitals[1]}", 2),
    ]


async def test_patient_data_is_purged_after_retention_and_statistics_stay(
    http: httpx.AsyncClient, actors: Actors, scene: Scene, db: asyncpg.Pool, clock: MovableClock, ctx: AppContext
) -> None:
    hard = await open_case(http, scene)
    requests = await send(http, scene, hard["id"], scene.hospitals)
    for staff, request in zip(scene.er[:3], requests[:3], strict=True):
        await answer(http, staff, request["requestId"], "decline", reason="no_beds", note="満床 (patient list)")
    await answer(http, scene.er[3], requests[3]["requestId"])
    await http.post(
        f"/v1/ems/cases/{hard['id']}/destination",
        json={"hospitalId": scene.hospitals[3]},
        headers=scene.paramedic.headers,
    )
    easy = await open_case(http, scene)
    [only] = await send(http, scene, easy["id"], scene.hospitals[:1])
    await answer(http, scene.er[0], only["requestId"])
    await http.post(
        f"/v1/ems/cases/{easy['id']}/attachments",
        content=PNG,
        headers={**scene.paramedic.headers, "content-type": "image/png"},
    )

    clock.advance(timedelta(days=31))
    assert await EmsService(ctx).purge_expired_phi() == 2
    raw = await db.fetch("SELECT chief_complaint, estimated_age, sex, allergies, purged_at FROM ems_cases")
    assert all(r["chief_complaint"] is None and r["estimated_age"] is None and r["sex"] is None for r in raw)
    assert all(r["purged_at"] is not None for r in raw)
    assert await db.fetchval("SELECT count(*) FROM ems_vitals") == 0
    assert await db.fetchval("SELECT count(*) FROM ems_attachments") == 0
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE reason_note IS NOT NULL") == 0

    admin = await actors.prefecture_admin()
    stats = (await http.get("/v1/ems/stats", headers=admin.headers)).json()
    assert stats["cases"] == 2
    assert stats["meanInquiriesPerCase"] == 2.5
    assert stats["shareNeeding4OrMoreInquiries"] == 0.5
    assert stats["medianSecondsToAcceptance"] is not None
    assert_problem(await http.get("/v1/ems/stats", headers=await scene_relogin(http, scene)), 403)


async def test_acceptance_board_expires_to_unknown(
    http: httpx.AsyncClient, scene: Scene, clock: MovableClock, db: asyncpg.Pool
) -> None:
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    url = f"/v1/hospitals/{scene.hospitals[0]}/board/cardiology"
    updated = await http.put(url, json={"status": "accepting", "until": until}, headers=scene.er[0].headers)
    assert updated.status_code == 200, updated.text
    assert_problem(await http.put(url, json={"status": "accepting", "until": until}, headers=scene.er[1].headers), 404)
    assert_problem(
        await http.put(
            f"/v1/hospitals/{scene.hospitals[0]}/board/astrology",
            json={"status": "accepting", "until": until},
            headers=scene.er[0].headers,
        ),
        400,
    )
    board = (await http.get("/v1/hospitals/board", headers=scene.paramedic.headers)).json()
    mine = next(h for h in board if h["hospitalId"] == scene.hospitals[0])
    assert [(d["department"], d["status"]) for d in mine["departments"]] == [("cardiology", "accepting")]
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'hospitals:board'") == 1
    clock.advance(timedelta(hours=3))
    paramedic = await scene_relogin(http, scene)
    board = (await http.get("/v1/hospitals/board", headers=paramedic)).json()
    mine = next(h for h in board if h["hospitalId"] == scene.hospitals[0])
    assert [(d["department"], d["status"]) for d in mine["departments"]] == [("cardiology", "unknown")]


async def scene_relogin(http: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    session = await http.post(
        "/v1/sessions", json={"email": scene.paramedic.email, "password": "correct horse battery staple"}
    )
    return {"Authorization": f"Bearer {session.json()['token']}"}
