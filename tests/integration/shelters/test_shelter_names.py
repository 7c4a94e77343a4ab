"""Caseworkers tell shelters apart by name, not by number; where a shelter is stays secret."""

from __future__ import annotations

import asyncpg
import httpx

from tests.support import Actors, assert_problem

WHERE = {"address", "lat", "lon", "municipalityId", "shelterAddress"}


async def test_caseworker_sees_each_shelter_by_name_on_the_board_and_in_the_answers_never_where_it_is(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    center = await actors.organization("guidance_center")
    caseworker = await actors.member("guidance_center", "caseworker", center)
    mirai = await actors.organization("shelter", "一時保護所みらい")
    hikari = await actors.organization("shelter", "一時保護所ひかり")
    staff = {s: await actors.member("shelter", "staff", s) for s in (mirai, hikari)}
    await db.execute(
        "UPDATE organizations SET address = '秘密の住所 1-2-3', lat = 35.1, lon = 139.2 WHERE id = ANY($1::bigint[])",
        [mirai, hikari],
    )
    set_beds = await http.put(f"/v1/shelters/{mirai}/units/0-5:any", json={"capacity": 2}, headers=staff[mirai].headers)
    assert set_beds.status_code == 200, set_beds.text
    assert set_beds.json()["shelterName"] == "一時保護所みらい"
    await http.put(f"/v1/shelters/{hikari}/units/0-5:any", json={"capacity": 1}, headers=staff[hikari].headers)

    board = await http.get("/v1/shelters/vacancies", headers=caseworker.headers)
    assert board.status_code == 200, board.text
    names = {v["shelterId"]: v["shelterName"] for v in board.json() if v["shelterId"] in (mirai, hikari)}
    assert names == {mirai: "一時保護所みらい", hikari: "一時保護所ひかり"}
    assert not any(WHERE & set(v) for v in board.json())
    assert "秘密の住所" not in board.text

    created = await http.post(
        "/v1/intake-requests",
        json={"ageYears": 3, "sex": "male", "category": "0-5:any", "urgency": "emergency",
              "shelterIds": [mirai, hikari]},
        headers=caseworker.headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    answer = await http.post(
        f"/v1/intake-requests/{request_id}/responses",
        json={"decision": "decline", "reason": "no_beds"},
        headers=staff[hikari].headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["shelterName"] == "一時保護所ひかり"

    seen = (await http.get(f"/v1/intake-requests/{request_id}", headers=caseworker.headers)).json()
    assert [(t["shelterName"], t["status"]) for t in seen["targets"]] == [
        ("一時保護所みらい", "pending"),
        ("一時保護所ひかり", "declined"),
    ]
    assert "秘密の住所" not in str(seen)
    # A shelter still sees only its own answer, so it learns no other shelter's name through a request.
    own = (await http.get(f"/v1/intake-requests/{request_id}", headers=staff[mirai].headers)).json()
    assert [t["shelterName"] for t in own["targets"]] == ["一時保護所みらい"]


async def test_the_board_with_its_names_is_closed_to_residents(http: httpx.AsyncClient, actors: Actors) -> None:
    resident = await actors.resident()
    assert_problem(await http.get("/v1/shelters/vacancies", headers=resident.headers), 403)
