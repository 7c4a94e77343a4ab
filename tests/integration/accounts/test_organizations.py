from __future__ import annotations

import json

import asyncpg
import httpx

from tests.support import Actors, assert_problem


async def test_prefecture_admin_creates_organization(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    response = await http.post(
        "/v1/organizations",
        json={"kind": "hospital", "name": "水戸中央病院", "municipalityId": 1},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "hospital"
    assert response.json()["municipalityId"] == 1


async def test_role_without_the_right_gets_403(http: httpx.AsyncClient, actors: Actors) -> None:
    paramedic = await actors.member("fire_department", "paramedic")
    hospital_admin = await actors.member("hospital", "admin")
    body = {"kind": "hospital", "name": "X"}
    for caller in (paramedic, hospital_admin):
        assert_problem(await http.post("/v1/organizations", json=body, headers=caller.headers), 403)


async def test_anonymous_caller_gets_401(http: httpx.AsyncClient) -> None:
    assert_problem(await http.post("/v1/organizations", json={"kind": "hospital", "name": "X"}), 401)


async def test_org_admin_adds_member_and_it_is_audited(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    nurse = await actors.resident()
    response = await http.post(
        f"/v1/organizations/{hospital}/members", json={"email": nurse.email, "role": "er_staff"}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["accountId"] == nurse.account_id
    me = (await http.get("/v1/me", headers=nurse.headers)).json()
    assert {"organizationId": hospital, "organizationKind": "hospital", "role": "er_staff"} in me["memberships"]
    audit = await db.fetchrow("SELECT * FROM audit WHERE action = 'membership.grant'")
    assert audit["actor_account_id"] == admin.account_id
    assert audit["subject_id"] == str(nurse.account_id)
    event = await db.fetchrow("SELECT topic, type, payload FROM outbox")
    assert event["topic"] == f"user:{nurse.account_id}"
    assert event["type"] == "account.membership_granted"
    assert json.loads(event["payload"]) == {
        "type": "account.membership_granted",
        "organizationId": hospital,
        "role": "er_staff",
    }


async def test_admin_of_another_organization_gets_404(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    other_admin = await actors.member("hospital", "admin")
    nurse = await actors.resident()
    response = await http.post(
        f"/v1/organizations/{hospital}/members",
        json={"email": nurse.email, "role": "er_staff"},
        headers=other_admin.headers,
    )
    assert_problem(response, 404)


async def test_staff_of_the_organization_cannot_add_members(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    nurse = await actors.member("hospital", "er_staff", hospital)
    response = await http.post(
        f"/v1/organizations/{hospital}/members", json={"email": nurse.email, "role": "admin"}, headers=nurse.headers
    )
    assert_problem(response, 403)


async def test_prefecture_admin_adds_member_anywhere(http: httpx.AsyncClient, actors: Actors) -> None:
    shelter = await actors.organization("shelter")
    admin = await actors.prefecture_admin()
    person = await actors.resident()
    response = await http.post(
        f"/v1/organizations/{shelter}/members", json={"email": person.email, "role": "staff"}, headers=admin.headers
    )
    assert response.status_code == 201


async def test_adding_unknown_account_gets_422_with_field(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    hospital = await actors.organization("hospital")
    response = await http.post(
        f"/v1/organizations/{hospital}/members",
        json={"email": "nobody@example.jp", "role": "staff"},
        headers=admin.headers,
    )
    problem = assert_problem(response, 422, "unknown-account")
    assert problem["errors"][0]["field"] == "$.email"


async def test_adding_same_role_twice_gets_409(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    hospital = await actors.organization("hospital")
    person = await actors.resident()
    body = {"email": person.email, "role": "er_staff"}
    url = f"/v1/organizations/{hospital}/members"
    assert (await http.post(url, json=body, headers=admin.headers)).status_code == 201
    assert_problem(await http.post(url, json=body, headers=admin.headers), 409, "already-member")


async def test_unknown_municipality_gets_422(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    response = await http.post(
        "/v1/organizations", json={"kind": "hospital", "name": "X", "municipalityId": 999}, headers=admin.headers
    )
    assert_problem(response, 422)


async def test_municipality_needs_municipality_id(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    response = await http.post("/v1/organizations", json={"kind": "municipality", "name": "X"}, headers=admin.headers)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "$.municipalityId"
