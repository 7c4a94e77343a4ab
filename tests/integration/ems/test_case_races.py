"""Changes of one case that arrive at the same moment: each is serialised on the case row,
and the database refuses what the service might still let through."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.ems.service import MAX_ATTACHMENTS_PER_CASE, EmsService
from tests.integration.ems.conftest import PNG, Scene, answer, open_case, send
from tests.support import assert_problem

PAIRS = 40


async def test_destination_and_new_requests_at_once_leave_no_other_hospital_holding_the_case(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool, clock: MovableClock, ctx: AppContext
) -> None:
    destination, *others = scene.hospitals
    cases = []
    for _ in range(PAIRS):
        case = await open_case(http, scene)
        [request] = await send(http, scene, case["id"], [destination])
        assert (await answer(http, scene.er[0], request["requestId"])).status_code == 201
        cases.append(case["id"])

    async def destination_and_new_requests(case_id: int) -> tuple[httpx.Response, httpx.Response]:
        chosen, sent = await asyncio.gather(
            http.post(
                f"/v1/ems/cases/{case_id}/destination",
                json={"hospitalId": destination},
                headers=scene.paramedic.headers,
            ),
            http.post(
                f"/v1/ems/cases/{case_id}/requests", json={"hospitalIds": others}, headers=scene.paramedic.headers
            ),
        )
        return chosen, sent

    outcomes = await asyncio.gather(*(destination_and_new_requests(case_id) for case_id in cases))
    for chosen, sent in outcomes:
        assert chosen.status_code == 201, chosen.text
        # Requests sent first are released by the destination; sent after, they are refused.
        if sent.status_code != 201:
            assert_problem(sent, 409, "destination-set")
    assert await db.fetchval("SELECT count(*) FROM ems_requests WHERE status IN ('pending', 'accepted')") == 0

    for staff in scene.er[1:]:
        assert (await http.get("/v1/ems/inbox", headers=staff.headers)).json() == []
        reads = await asyncio.gather(
            *(
                http.get(f"/v1/ems/cases/{case_id}{suffix}", headers=staff.headers)
                for case_id in cases
                for suffix in ("", "/fhir")
            )
        )
        for read in reads:
            assert_problem(read, 404)
    kept = await asyncio.gather(*(http.get(f"/v1/ems/cases/{c}", headers=scene.er[0].headers) for c in cases))
    assert all(read.status_code == 200 for read in kept)

    clock.advance(timedelta(minutes=10))
    assert await EmsService(ctx).realert_unanswered() == 0


async def test_database_refuses_an_open_request_on_a_case_with_a_destination(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    chosen = await open_case(http, scene)
    requests = await send(http, scene, chosen["id"], scene.hospitals[:2])
    await answer(http, scene.er[0], requests[0]["requestId"])
    destination = await http.post(
        f"/v1/ems/cases/{chosen['id']}/destination",
        json={"hospitalId": scene.hospitals[0]},
        headers=scene.paramedic.headers,
    )
    assert destination.status_code == 201, destination.text
    # What a code path that forgot the case lock would do: open a request after the choice...
    with pytest.raises(asyncpg.CheckViolationError) as inserted:
        await db.execute(
            "INSERT INTO ems_requests (case_id, hospital_id, status, sent_at) VALUES ($1, $2, 'pending', now())",
            chosen["id"],
            scene.hospitals[2],
        )
    assert inserted.value.constraint_name == "ems_requests_closed_after_destination"
    # ...or reopen a released one...
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE ems_requests SET status = 'accepted' WHERE id = $1", requests[1]["requestId"])

    # ...or choose a destination while requests are still open.
    open_one = await open_case(http, scene)
    await send(http, scene, open_one["id"], scene.hospitals[:1])
    with pytest.raises(asyncpg.CheckViolationError) as marked:
        await db.execute("UPDATE ems_cases SET destination_at = now() WHERE id = $1", open_one["id"])
    assert marked.value.constraint_name == "ems_requests_closed_after_destination"


async def test_concurrent_uploads_stop_at_the_attachment_cap(
    http: httpx.AsyncClient, scene: Scene, db: asyncpg.Pool
) -> None:
    case = await open_case(http, scene)
    url = f"/v1/ems/cases/{case['id']}/attachments"
    headers = {**scene.paramedic.headers, "content-type": "image/png"}
    uploads = await asyncio.gather(*(http.post(url, content=PNG, headers=headers) for _ in range(25)))
    assert sorted(u.status_code for u in uploads) == [201] * MAX_ATTACHMENTS_PER_CASE + [409] * 5
    for refused in (u for u in uploads if u.status_code == 409):
        assert_problem(refused, 409, "too-many-attachments")
    assert await db.fetchval("SELECT count(*) FROM ems_attachments") == MAX_ATTACHMENTS_PER_CASE
    assert_problem(await http.post(url, content=PNG, headers=headers), 409, "too-many-attachments")
    # The cap is on photos only: the crew still records vitals.
    vitals = await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": datetime.now(UTC).isoformat(), "hr": 90},
        headers=scene.paramedic.headers,
    )
    assert vitals.status_code == 201, vitals.text
