from __future__ import annotations

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
