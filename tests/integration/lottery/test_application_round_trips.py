"""A lottery application in a rush (issue 16): one read of the lottery, its resources' hours and the
applicant's applications, then one statement (apply_to_lottery) that writes the application and its
preferences; applicants share the lottery's lock, and one person's applications queue for the cap."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.integration.facilities.conftest import make_venue
from tests.integration.lottery.test_lottery import apply, create_lottery
from tests.support import Actors, assert_problem, statements


async def test_an_application_costs_three_round_trips(
    counting: httpx.AsyncClient, http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue, perUserCap=3)
    person = await actors.resident()
    # Once, so each statement is prepared on the connection (a pool's cost, not an application's).
    assert (await apply(counting, person, lottery["id"], venue, (10, 10))).status_code == 201

    applied = await apply(counting, person, lottery["id"], venue, (11, 10), (11, 11), (12, 9))
    assert applied.status_code == 201, applied.text
    assert statements(applied) == 3  # the session lookup, the read, the application
    assert [p["rank"] for p in applied.json()["preferences"]] == [1, 2, 3]
    stored = await db.fetch(
        "SELECT rank, resource_id FROM lottery_preferences WHERE application_id = $1 ORDER BY rank",
        applied.json()["id"],
    )
    assert [(r["rank"], r["resource_id"]) for r in stored] == [(n, venue.resource_id) for n in (1, 2, 3)]


async def test_one_persons_simultaneous_applications_stop_at_the_cap(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue, perUserCap=2)
    person, other = await actors.resident(), await actors.resident()
    answers = await asyncio.gather(
        *(apply(http, person, lottery["id"], venue, (10 + n, 10)) for n in range(6)),
        *(apply(http, other, lottery["id"], venue, (10 + n, 11)) for n in range(2)),
    )
    mine, theirs = answers[:6], answers[6:]
    assert sorted(a.status_code for a in mine) == [201, 201, 409, 409, 409, 409]
    for refused in (a for a in mine if a.status_code == 409):
        assert_problem(refused, 409, "cap-reached")
    assert [a.status_code for a in theirs] == [201, 201]  # another person's cap is their own
    count = await db.fetchval(
        "SELECT count(*) FROM lottery_applications WHERE lottery_id = $1 AND account_id = $2",
        lottery["id"],
        person.account_id,
    )
    assert count == 2
