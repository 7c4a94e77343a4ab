from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from backend.core.auth import Caller
from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.shelters.service import ShelterService
from schema.accounts import Membership
from tests.support import Actor, Actors, assert_problem

CHILD = {"name": "山田 花子", "birthDate": "2016-04-02", "notes": "喘息の吸入薬あり"}


@dataclass
class Network:
    center: int
    caseworker: Actor
    shelters: list[int]
    staff: list[Actor]


@pytest.fixture
async def network(http: httpx.AsyncClient, actors: Actors) -> Network:
    center = await actors.organization("guidance_center")
    caseworker = await actors.member("guidance_center", "caseworker", center)
    shelters = [await actors.organization("shelter") for _ in range(3)]
    staff = [await actors.member("shelter", "staff", s) for s in shelters]
    for shelter, person in zip(shelters, staff, strict=True):
        unit = await http.put(f"/v1/shelters/{shelter}/units/6-12:female", json={"capacity": 2}, headers=person.headers)
        assert unit.status_code == 200, unit.text
    return Network(center, caseworker, shelters, staff)


async def new_request(http: httpx.AsyncClient, network: Network, shelters: list[int] | None = None) -> dict[str, Any]:
    body = {
        "ageYears": 9,
        "sex": "female",
        "category": "6-12:female",
        "needs": ["medical_care"],
        "urgency": "emergency",
        "shelterIds": shelters or network.shelters,
    }
    response = await http.post("/v1/intake-requests", json=body, headers=network.caseworker.headers)
    assert response.status_code == 201, response.text
    request: dict[str, Any] = response.json()
    return request


async def accept(http: httpx.AsyncClient, staff: Actor, request_id: int) -> None:
    response = await http.post(
        f"/v1/intake-requests/{request_id}/responses", json={"decision": "accept"}, headers=staff.headers
    )
    assert response.status_code == 201, response.text


async def place(
    http: httpx.AsyncClient, worker: Actor, request_id: int, shelter_id: int, child: dict[str, Any] = CHILD
) -> httpx.Response:
    return await http.post(
        f"/v1/intake-requests/{request_id}/placement",
        json={"shelterId": shelter_id, "child": child},
        headers=worker.headers,
    )


async def test_request_carries_no_name_and_reaches_every_shelter(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    refused = await http.post(
        "/v1/intake-requests",
        json={"ageYears": 9, "sex": "female", "category": "6-12:female", "urgency": "urgent",
              "shelterIds": network.shelters, "name": "山田 花子"},
        headers=network.caseworker.headers,
    )  # fmt: skip
    assert assert_problem(refused, 422)["errors"][0]["field"] == "$.name"
    request = await new_request(http, network)
    for staff in network.staff:
        listed = (await http.get("/v1/intake-requests", headers=staff.headers)).json()
        assert [r["id"] for r in listed] == [request["id"]]
        assert "child" not in listed[0]
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox WHERE type = 'intake.requested'")]
    assert sorted(topics) == sorted(f"shelter:{s}" for s in network.shelters)


async def test_answers_appear_to_the_caseworker_and_each_shelter_sees_only_its_own(
    http: httpx.AsyncClient, network: Network
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    declined = await http.post(
        f"/v1/intake-requests/{request['id']}/responses",
        json={"decision": "decline", "reason": "個別対応が必要な児童が多く職員不足"},
        headers=network.staff[1].headers,
    )
    assert declined.status_code == 201
    no_reason = await http.post(
        f"/v1/intake-requests/{request['id']}/responses", json={"decision": "decline"}, headers=network.staff[2].headers
    )
    assert_problem(no_reason, 422)
    seen = (await http.get(f"/v1/intake-requests/{request['id']}", headers=network.caseworker.headers)).json()
    assert [t["status"] for t in seen["targets"]] == ["accepted", "declined", "pending"]
    shelter_view = (await http.get(f"/v1/intake-requests/{request['id']}", headers=network.staff[1].headers)).json()
    assert [t["shelterId"] for t in shelter_view["targets"]] == [network.shelters[1]]


async def test_placement_shares_identity_only_with_the_centre_and_the_chosen_shelter(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    await accept(http, network.staff[1], request["id"])
    placed = await place(http, network.caseworker, request["id"], network.shelters[0])
    assert placed.status_code == 201, placed.text
    assert placed.json()["child"]["name"] == CHILD["name"]
    chosen = (await http.get(f"/v1/intake-requests/{request['id']}", headers=network.staff[0].headers)).json()
    assert chosen["child"] == CHILD
    for other in network.staff[1:]:
        response = await http.get(f"/v1/intake-requests/{request['id']}", headers=other.headers)
        assert CHILD["name"] not in response.text
        assert "山田" not in (await http.get("/v1/intake-requests", headers=other.headers)).text
        assert response.json()["targets"][0]["status"] == "closed"
    # Nowhere else in plain text: not in any event, not in the database.
    for row in await db.fetch("SELECT payload::text AS p FROM outbox"):
        assert "山田" not in row["p"]
        assert "2016-04-02" not in row["p"]
    raw = await db.fetchrow("SELECT identity_ciphertext, identity_key_id FROM placements")
    assert "山田".encode() not in raw["identity_ciphertext"]
    assert CHILD["name"].encode("utf-8") not in raw["identity_ciphertext"]
    assert raw["identity_key_id"] == "current"
    dump = await db.fetchval("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM placements) t") + await db.fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM audit) t"
    )
    assert "山田" not in dump
    assert "喘息" not in dump


async def test_identity_bound_to_its_request(http: httpx.AsyncClient, network: Network, db: asyncpg.Pool) -> None:
    first, second = await new_request(http, network), await new_request(http, network)
    for request in (first, second):
        await accept(http, network.staff[0], request["id"])
        await place(
            http, network.caseworker, request["id"], network.shelters[0], {**CHILD, "name": f"child of {request['id']}"}
        )
    # Copying a sealed identity onto another child's record must not reveal it there.
    await db.execute(
        """
        UPDATE placements SET identity_ciphertext = (SELECT identity_ciphertext FROM placements WHERE request_id = $1),
                              identity_nonce = (SELECT identity_nonce FROM placements WHERE request_id = $1)
         WHERE request_id = $2
        """,
        first["id"],
        second["id"],
    )
    response = await http.get(f"/v1/intake-requests/{second['id']}", headers=network.caseworker.headers)
    # Tampering is an integrity failure, never a wrong child shown.
    assert_problem(response, 500, "record-integrity")
    assert f"child of {first['id']}" not in response.text


async def test_two_caseworkers_race_for_the_last_bed(
    http: httpx.AsyncClient, actors: Actors, network: Network, db: asyncpg.Pool
) -> None:
    shelter, staff = network.shelters[2], network.staff[2]
    await http.put(f"/v1/shelters/{shelter}/units/6-12:female", json={"capacity": 1}, headers=staff.headers)
    other_worker = await actors.member("guidance_center", "caseworker", network.center)
    one = await new_request(http, network, [shelter])
    two_body = {
        "ageYears": 7,
        "sex": "female",
        "category": "6-12:female",
        "urgency": "emergency",
        "shelterIds": [shelter],
    }
    two = (await http.post("/v1/intake-requests", json=two_body, headers=other_worker.headers)).json()
    for request in (one, two):
        await accept(http, staff, request["id"])
    responses = await asyncio.gather(
        place(http, network.caseworker, one["id"], shelter),
        place(http, other_worker, two["id"], shelter, {**CHILD, "name": "佐藤 陽菜"}),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "shelter-full")
    unit = await db.fetchrow("SELECT capacity, occupied FROM shelter_units WHERE shelter_id = $1", shelter)
    assert (unit["capacity"], unit["occupied"]) == (1, 1)
    assert await db.fetchval("SELECT count(*) FROM placements") == 1


async def test_placing_twice_gets_409_and_discharge_frees_the_bed(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    url = f"/v1/intake-requests/{request['id']}/placement"
    body = {"shelterId": network.shelters[0], "child": CHILD}
    placement = (await http.post(url, json=body, headers=network.caseworker.headers)).json()["placement"]
    assert_problem(await http.post(url, json=body, headers=network.caseworker.headers), 409, "already-placed")
    not_accepted = await new_request(http, network)
    assert_problem(
        await http.post(
            f"/v1/intake-requests/{not_accepted['id']}/placement", json=body, headers=network.caseworker.headers
        ),
        409,
        "not-accepted",
    )
    board = {
        (v["shelterId"], v["category"]): v
        for v in (await http.get("/v1/shelters/vacancies", headers=network.caseworker.headers)).json()
    }
    assert board[(network.shelters[0], "6-12:female")]["occupied"] == 1
    assert_problem(
        await http.post(f"/v1/placements/{placement['id']}/discharge", headers=network.staff[1].headers), 404
    )
    left = await http.post(f"/v1/placements/{placement['id']}/discharge", headers=network.staff[0].headers)
    assert left.status_code == 200
    assert await db.fetchval("SELECT occupied FROM shelter_units WHERE shelter_id = $1", network.shelters[0]) == 0
    assert_problem(
        await http.post(f"/v1/placements/{placement['id']}/discharge", headers=network.staff[0].headers), 409
    )


async def test_cross_organisation_access_is_404_and_every_view_is_audited(
    http: httpx.AsyncClient, actors: Actors, network: Network, db: asyncpg.Pool
) -> None:
    request = await new_request(http, network, network.shelters[:2])
    other_center = await actors.member("guidance_center", "caseworker")
    unrelated_shelter = network.staff[2]
    for outsider in (other_center, unrelated_shelter):
        assert_problem(await http.get(f"/v1/intake-requests/{request['id']}", headers=outsider.headers), 404)
    assert (await http.get("/v1/intake-requests", headers=other_center.headers)).json() == []
    await http.get(f"/v1/intake-requests/{request['id']}", headers=network.staff[0].headers)
    await http.get(f"/v1/intake-requests/{request['id']}", headers=network.caseworker.headers)
    rows = await db.fetch(
        "SELECT actor_account_id, action, reason FROM audit WHERE subject_type = 'intake_request' ORDER BY id"
    )
    assert [(r["actor_account_id"], r["action"]) for r in rows] == [
        (network.caseworker.account_id, "intake.create"),
        (network.staff[0].account_id, "intake.read"),
        (network.caseworker.account_id, "intake.read"),
    ]
    assert all(r["reason"] for r in rows)
    resident = await actors.resident()
    assert_problem(await http.get(f"/v1/intake-requests/{request['id']}", headers=resident.headers), 403)


async def test_capacity_cannot_drop_below_beds_in_use(http: httpx.AsyncClient, network: Network) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    await place(http, network.caseworker, request["id"], network.shelters[0])
    url = f"/v1/shelters/{network.shelters[0]}/units/6-12:female"
    assert_problem(await http.put(url, json={"capacity": 0}, headers=network.staff[0].headers), 409, "over-capacity")
    assert_problem(await http.put(url, json={"capacity": 3}, headers=network.staff[1].headers), 404)
    bad = await http.put(
        f"/v1/shelters/{network.shelters[0]}/units/adults", json={"capacity": 3}, headers=network.staff[0].headers
    )
    assert_problem(bad, 400)


async def test_time_from_request_to_placement_is_recorded(
    http: httpx.AsyncClient, actors: Actors, network: Network
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    await place(http, network.caseworker, request["id"], network.shelters[0])
    admin = await actors.prefecture_admin()
    stats = (await http.get("/v1/intake-stats", headers=admin.headers)).json()
    assert stats["placements"] == 1
    assert 0 <= stats["medianMinutes"] < 5


async def test_shelter_stops_seeing_the_identity_thirty_days_after_discharge(
    http: httpx.AsyncClient, actors: Actors, network: Network, db: asyncpg.Pool, clock: MovableClock
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    placed = (await place(http, network.caseworker, request["id"], network.shelters[0])).json()["placement"]
    discharged = await http.post(f"/v1/placements/{placed['id']}/discharge", headers=network.staff[0].headers)
    assert discharged.status_code == 200, discharged.text
    until = datetime.fromisoformat(discharged.json()["identityAccessUntil"])
    assert until - datetime.fromisoformat(discharged.json()["dischargedAt"]) == timedelta(days=30)
    url = f"/v1/intake-requests/{request['id']}"

    async def as_shelter() -> httpx.Response:
        staff = await actors.login(network.staff[0].email, network.staff[0].account_id)  # sessions last 12 h
        return await http.get(url, headers=staff.headers)

    assert (await http.get(url, headers=network.staff[0].headers)).json()["child"] == CHILD
    clock.advance(timedelta(days=30) - timedelta(minutes=1))
    assert (await as_shelter()).json()["child"] == CHILD
    clock.advance(timedelta(minutes=2))
    after = await as_shelter()
    assert after.status_code == 200
    assert "child" not in after.json()
    assert "山田" not in after.text
    assert after.json()["placement"]["identityAccessUntil"] == discharged.json()["identityAccessUntil"]
    staff = await actors.login(network.staff[0].email, network.staff[0].account_id)
    assert "山田" not in (await http.get("/v1/intake-requests", headers=staff.headers)).text
    caseworker = await actors.login(network.caseworker.email, network.caseworker.account_id)
    assert (await http.get(url, headers=caseworker.headers)).json()["child"] == CHILD  # the centre keeps it
    rows = await db.fetch(
        "SELECT actor_account_id, action, reason FROM audit WHERE subject_type = 'intake_request' ORDER BY id"
    )
    shelter_rows = [r for r in rows if r["actor_account_id"] == network.staff[0].account_id]
    assert [r["action"] for r in shelter_rows] == [
        "intake.accepted",
        "intake.discharge",
        "intake.read.identity",
        "intake.read.identity",
        "intake.read.identity_expired",
        "intake.list.identity_expired",
    ]
    assert until.isoformat() in shelter_rows[-1]["reason"]
    discharge_row = next(r for r in rows if r["action"] == "intake.discharge")
    assert until.isoformat() in discharge_row["reason"]


async def test_identity_period_after_discharge_follows_the_setting(
    http: httpx.AsyncClient, network: Network, ctx: AppContext
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    placed = (await place(http, network.caseworker, request["id"], network.shelters[0])).json()["placement"]
    at_once = replace(ctx, settings=replace(ctx.settings, shelter_identity_days_after_discharge=0))
    shelter = Caller(
        account_id=network.staff[0].account_id,
        session_id=0,
        locale="ja",
        memberships=(Membership(organization_id=network.shelters[0], organization_kind="shelter", role="staff"),),
    )
    discharged = await ShelterService(at_once).discharge(shelter, placed["id"])
    assert discharged.identity_access_until == discharged.discharged_at
    seen = await http.get(f"/v1/intake-requests/{request['id']}", headers=network.staff[0].headers)
    assert "child" not in seen.json()
