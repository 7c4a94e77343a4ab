"""Residency (issue 18): declared by the resident, verified by that municipality's staff; only a
verified residency gives the resident fee and the lottery's resident tier; a move ends it."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx

from tests.integration.facilities.conftest import make_venue
from tests.integration.lottery.test_lottery import apply, create_lottery
from tests.support import Actor, Actors, assert_problem, table_counts


async def declare(http: httpx.AsyncClient, person: Actor, municipality_id: int) -> dict[str, Any]:
    response = await http.put("/v1/me/residency", json={"municipalityId": municipality_id}, headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def queue_url(municipality_id: int, residency_id: int | None = None, action: str = "") -> str:
    base = f"/v1/municipalities/{municipality_id}/residency-requests"
    return base if residency_id is None else f"{base}/{residency_id}/{action}"


async def test_only_a_verified_residency_gets_the_resident_fee_and_a_move_ends_it(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    venue = await make_venue(http, actors)  # in municipality 1: ¥1,000 an hour, ¥1,500 for others
    mito = venue.staff
    other_office = await actors.organization("municipality", municipality_id=2)
    kasama = await actors.member("municipality", "staff", other_office)
    person = await actors.resident()

    declared = await declare(http, person, 1)
    assert declared["status"] == "pending"
    assert declared["municipalityId"] == 1
    # Declared is not verified: still the non-resident fee.
    pending_fee = await http.post("/v1/bookings", json=venue.slot(5, 9), headers=person.headers)
    assert pending_fee.json()["fee"] == 1500

    queue = await http.get(queue_url(1), headers=mito.headers)
    assert queue.status_code == 200, queue.text
    assert [(r["id"], r["accountId"], r["email"]) for r in queue.json()] == [
        (declared["id"], person.account_id, person.email)
    ]
    # Another municipality's staff neither see nor decide it.
    assert_problem(await http.get(queue_url(1), headers=kasama.headers), 404)
    assert_problem(await http.post(queue_url(1, declared["id"], "approve"), headers=kasama.headers), 404)
    assert_problem(await http.post(queue_url(2, declared["id"], "approve"), headers=kasama.headers), 404)

    approved = await http.post(queue_url(1, declared["id"], "approve"), headers=mito.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "verified"
    assert_problem(
        await http.post(queue_url(1, declared["id"], "approve"), headers=mito.headers),
        409,
        "residency-decided",
    )
    assert (await http.get(queue_url(1), headers=mito.headers)).json() == []
    resident_fee = await http.post("/v1/bookings", json=venue.slot(5, 11), headers=person.headers)
    assert resident_fee.json()["fee"] == 1000
    # Saying the same municipality again keeps the verification.
    assert (await declare(http, person, 1))["status"] == "verified"

    # A move: the verification ends at once, and the new municipality decides.
    moved = await declare(http, person, 2)
    assert moved["status"] == "pending"
    ended = await db.fetchval("SELECT status FROM residencies WHERE id = $1", declared["id"])
    assert ended == "ended"
    after_move = await http.post("/v1/bookings", json=venue.slot(5, 13), headers=person.headers)
    assert after_move.json()["fee"] == 1500
    assert_problem(
        await http.post(queue_url(2, moved["id"], "decline"), json={"reason": ""}, headers=kasama.headers),
        422,
    )
    declined = await http.post(
        queue_url(2, moved["id"], "decline"),
        json={"reason": "住民票が確認できません"},
        headers=kasama.headers,
    )
    assert declined.status_code == 200, declined.text
    mine = (await http.get("/v1/me/residency", headers=person.headers)).json()
    assert (mine["status"], mine["declineReason"]) == ("declined", "住民票が確認できません")

    audit = await db.fetch(
        "SELECT action, actor_account_id, reason FROM audit WHERE subject_type = 'residency' ORDER BY id"
    )
    assert [(a["action"], a["actor_account_id"]) for a in audit] == [
        ("residency.declare", person.account_id),
        ("residency.approve", mito.account_id),
        ("residency.end", person.account_id),
        ("residency.declare", person.account_id),
        ("residency.decline", kasama.account_id),
    ]
    assert audit[-1]["reason"] == "住民票が確認できません"
    told = await db.fetch(
        "SELECT payload FROM outbox WHERE topic = $1 AND type = 'residency.changed' ORDER BY id",
        f"user:{person.account_id}",
    )
    assert [json.loads(r["payload"])["status"] for r in told] == ["verified", "ended", "declined"]
    offices = await db.fetch("SELECT topic FROM outbox WHERE type = 'residency.requested' ORDER BY id")
    assert [r["topic"] for r in offices] == [
        f"municipality:{venue_office}" for venue_office in await _offices(db, 1)
    ] + [f"municipality:{other_office}"]


async def _offices(db: asyncpg.Pool, municipality_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM organizations WHERE kind = 'municipality' AND municipality_id = $1 ORDER BY id", municipality_id
    )
    return [r["id"] for r in rows]


async def test_bad_declarations_change_nothing(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    person = await actors.resident()
    await declare(http, person, 1)
    before = await table_counts(db)
    for body in ({"municipalityId": 999_999}, {"municipalityId": 0}, {}, {"municipalityId": "1"}):
        response = await http.put("/v1/me/residency", json=body, headers=person.headers)
        assert response.status_code in (400, 422), (body, response.text)
    assert await table_counts(db) == before
    assert (await http.get("/v1/me/residency", headers=person.headers)).json()["municipalityId"] == 1
    stranger = await actors.resident()
    assert_problem(await http.get("/v1/me/residency", headers=stranger.headers), 404)


async def test_only_verified_residents_enter_the_lotterys_resident_tier(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue)
    claimed, verified = await actors.resident(), await actors.resident()
    await declare(http, claimed, 1)
    mine = await declare(http, verified, 1)
    approved = await http.post(queue_url(1, mine["id"], "approve"), headers=venue.staff.headers)
    assert approved.status_code == 200, approved.text
    applied_claimed = await apply(http, claimed, lottery["id"], venue, (10, 10))
    applied_verified = await apply(http, verified, lottery["id"], venue, (10, 10))
    assert applied_claimed.json()["resident"] is False
    assert applied_verified.json()["resident"] is True
