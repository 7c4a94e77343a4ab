"""Shelter and guidance-centre back office: bed categories, current placements, the centre's
requests by state, cancelling an open request."""

from __future__ import annotations

import json

import asyncpg
import httpx

from tests.integration.shelters.test_intake import CHILD, Network, accept, network, new_request, place
from tests.support import Actors, assert_problem, table_counts

__all__ = ["network"]  # the fixture, re-used


async def test_shelter_creates_renames_and_retires_a_bed_category(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    shelter, staff = network.shelters[0], network.staff[0]
    url = f"/v1/shelters/{shelter}/categories"
    created = await http.post(url, json={"category": "special", "capacity": 2, "label": "医療ケア室"},
                              headers=staff.headers)  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json() == {"category": "special", "label": "医療ケア室", "capacity": 2, "occupied": 0,
                              "retiredAt": None}  # fmt: skip
    assert_problem(await http.post(url, json={"category": "special", "capacity": 1}, headers=staff.headers), 409,
                   "category-exists")  # fmt: skip
    renamed = await http.patch(f"{url}/special", json={"label": "医療的ケア"}, headers=staff.headers)
    assert (renamed.json()["label"], renamed.json()["capacity"]) == ("医療的ケア", 2)
    listed = await http.get(url, headers=staff.headers)
    assert [(c["category"], c["label"]) for c in listed.json()] == [("6-12:female", "6-12:female"),
                                                                     ("special", "医療的ケア")]  # fmt: skip
    retired = await http.delete(f"{url}/special", headers=staff.headers)
    assert retired.status_code == 204, retired.text
    assert [c["category"] for c in (await http.get(url, headers=staff.headers)).json()] == ["6-12:female"]
    vacancies = (await http.get("/v1/shelters/vacancies", headers=staff.headers)).json()
    assert "special" not in {v["category"] for v in vacancies if v["shelterId"] == shelter}
    everything = await http.get(url, params={"includeRetired": "true"}, headers=staff.headers)
    assert everything.json()[1]["retiredAt"] is not None
    assert_problem(await http.delete(f"{url}/special", headers=staff.headers), 404)
    # Brought back by creating it again.
    again = await http.post(url, json={"category": "special", "capacity": 1}, headers=staff.headers)
    assert again.status_code == 201
    assert again.json()["retiredAt"] is None
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit ORDER BY id")]
    assert actions == ["shelter.category.create", "shelter.category.update", "shelter.category.retire",
                       "shelter.category.create"]  # fmt: skip


async def test_an_occupied_category_cannot_be_retired_or_shrunk_below_its_children(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    shelter, staff = network.shelters[0], network.staff[0]
    request = await new_request(http, network)
    await accept(http, staff, request["id"])
    assert (await place(http, network.caseworker, request["id"], shelter)).status_code == 201
    url = f"/v1/shelters/{shelter}/categories/6-12:female"
    before = await table_counts(db)
    assert_problem(await http.delete(url, headers=staff.headers), 409, "category-occupied")
    assert_problem(await http.patch(url, json={"capacity": 0}, headers=staff.headers), 409, "over-capacity")
    assert await table_counts(db) == before


async def test_a_retired_category_takes_no_placement(http: httpx.AsyncClient, network: Network) -> None:
    shelter, staff = network.shelters[0], network.staff[0]
    request = await new_request(http, network)
    await accept(http, staff, request["id"])
    assert (await http.delete(f"/v1/shelters/{shelter}/categories/6-12:female", headers=staff.headers)).is_success
    assert_problem(await place(http, network.caseworker, request["id"], shelter), 409, "shelter-full")


async def test_categories_of_another_shelter_are_out_of_reach(http: httpx.AsyncClient, network: Network) -> None:
    other, staff = network.shelters[1], network.staff[0]
    assert_problem(await http.get(f"/v1/shelters/{other}/categories", headers=staff.headers), 404)
    assert_problem(await http.post(f"/v1/shelters/{other}/categories", json={"category": "special", "capacity": 1},
                                   headers=staff.headers), 404)  # fmt: skip
    assert_problem(await http.delete(f"/v1/shelters/{other}/categories/6-12:female", headers=staff.headers), 404)
    assert_problem(await http.get(f"/v1/shelters/{other}/placements", headers=staff.headers), 404)


async def test_shelter_lists_its_current_placements_with_identity_audited_per_child(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    shelter, staff = network.shelters[0], network.staff[0]
    placed = []
    for _ in range(2):
        request = await new_request(http, network)
        await accept(http, staff, request["id"])
        response = await place(http, network.caseworker, request["id"], shelter)
        placed.append(response.json())
    discharged = placed[0]["placement"]["id"]
    assert (await http.post(f"/v1/placements/{discharged}/discharge", headers=staff.headers)).status_code == 200
    await db.execute("DELETE FROM audit")

    response = await http.get(f"/v1/shelters/{shelter}/placements", headers=staff.headers)
    assert response.status_code == 200, response.text
    [current] = response.json()
    assert current["requestId"] == placed[1]["id"]
    assert current["child"] == {"name": CHILD["name"], "birthDate": CHILD["birthDate"], "notes": CHILD["notes"]}
    audit = await db.fetch("SELECT actor_account_id, action, subject_id FROM audit")
    assert [(a["actor_account_id"], a["action"], a["subject_id"]) for a in audit] == [
        (staff.account_id, "intake.placements.identity", str(placed[1]["id"]))
    ]
    # Another shelter asked for the same child sees nothing of it.
    assert (
        await http.get(f"/v1/shelters/{network.shelters[1]}/placements", headers=network.staff[1].headers)
    ).json() == []


async def test_centre_lists_requests_by_state_with_minutes_to_placement(
    http: httpx.AsyncClient, network: Network
) -> None:
    open_one = await new_request(http, network)
    placed = await new_request(http, network)
    await accept(http, network.staff[0], placed["id"])
    assert (await place(http, network.caseworker, placed["id"], network.shelters[0])).status_code == 201
    url = f"/v1/guidance-centers/{network.center}/intake-requests"
    everything = (await http.get(url, headers=network.caseworker.headers)).json()
    assert [r["id"] for r in everything] == [placed["id"], open_one["id"]]
    only_placed = (await http.get(url, params={"status": "placed"}, headers=network.caseworker.headers)).json()
    assert [r["id"] for r in only_placed] == [placed["id"]]
    assert only_placed[0]["minutesToPlacement"] >= 0
    assert (only_placed[0]["sheltersAsked"], only_placed[0]["sheltersAccepting"]) == (3, 1)
    assert "child" not in only_placed[0]
    paged = await http.get(url, params={"limit": 1}, headers=network.caseworker.headers)
    assert 'rel="next"' in paged.headers["link"]
    other = await http.get(f"/v1/guidance-centers/{network.center + 1000}/intake-requests",
                           headers=network.caseworker.headers)  # fmt: skip
    assert_problem(other, 404)


async def test_centre_cancels_an_open_request_and_every_shelter_is_told(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    url = f"/v1/intake-requests/{request['id']}/cancel"
    assert_problem(await http.post(url, json={}, headers=network.caseworker.headers), 422)
    cancelled = await http.post(url, json={"reason": "家庭に戻った returned home"}, headers=network.caseworker.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    events = await db.fetch("SELECT topic, payload FROM outbox WHERE type = 'intake.cancelled' ORDER BY topic")
    assert sorted(e["topic"] for e in events) == sorted(
        [f"shelter:{s}" for s in network.shelters] + [f"guidance:{network.center}"]
    )
    assert json.loads(events[0]["payload"]) == {"type": "intake.cancelled", "requestId": request["id"]}
    assert await db.fetchval("SELECT reason FROM audit WHERE action = 'intake.cancel'") == "家庭に戻った returned home"
    # Nothing more happens on it: no answer, no placement, no second cancel.
    answer = await http.post(f"/v1/intake-requests/{request['id']}/responses", json={"decision": "accept"},
                             headers=network.staff[1].headers)  # fmt: skip
    assert_problem(answer, 409)
    assert_problem(await place(http, network.caseworker, request["id"], network.shelters[0]), 409)
    assert_problem(await http.post(url, json={"reason": "x"}, headers=network.caseworker.headers), 409,
                   "request-closed")  # fmt: skip


async def test_a_placed_request_cannot_be_cancelled_and_other_centres_get_404(
    http: httpx.AsyncClient, network: Network, actors: Actors
) -> None:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    assert (await place(http, network.caseworker, request["id"], network.shelters[0])).status_code == 201
    url = f"/v1/intake-requests/{request['id']}/cancel"
    assert_problem(await http.post(url, json={"reason": "x"}, headers=network.caseworker.headers), 409,
                   "request-closed")  # fmt: skip
    second = await new_request(http, network)
    elsewhere = await actors.member("guidance_center", "caseworker")
    cancel = f"/v1/intake-requests/{second['id']}/cancel"
    assert_problem(await http.post(cancel, json={"reason": "x"}, headers=elsewhere.headers), 404)
    assert_problem(await http.post(cancel, json={"reason": "x"}, headers=network.staff[0].headers), 403)
