"""A lottery application writes its Idempotency-Key in its own statement (issue 16, as a booking does:
backend/core/command_keys.py): the key and the application commit together or not at all, and a
retry gets the application re-read through GET /v1/lottery-applications/{id} as its applicant, with
the preferences' times in UTC, as the first answer gave them. What the middleware promised for every
key still holds: one application however many duplicates race, 422 for the key with another body,
refusals replayed too."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from tests.integration.facilities.conftest import Venue, make_venue
from tests.integration.lottery.test_lottery import create_lottery, next_month_day
from tests.support import Actor, Actors, assert_key_written_by_command, assert_problem, statements


def keyed(person: Actor, key: str | None = None) -> dict[str, str]:
    return {**person.headers, "Idempotency-Key": key or str(uuid.uuid4())}


async def apply(
    http: httpx.AsyncClient, lottery_id: int, venue: Venue, headers: dict[str, str], *days_hours: tuple[int, int]
) -> httpx.Response:
    preferences = [{"resourceId": venue.resource_id, **next_month_day(day, hour)[1]} for day, hour in days_hours]
    return await http.post(
        f"/v1/lotteries/{lottery_id}/applications", json={"preferences": preferences}, headers=headers
    )


async def open_lottery(http: httpx.AsyncClient, actors: Actors, **overrides: Any) -> tuple[Venue, dict[str, Any]]:
    """A venue's court and a lottery of it, open for applications."""
    venue = await make_venue(http, actors)
    return venue, await create_lottery(http, venue, **overrides)


async def applications_of(db: asyncpg.Pool, lottery_id: int, person: Actor) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM lottery_applications WHERE lottery_id = $1 AND account_id = $2",
        lottery_id,
        person.account_id,
    )
    return count


async def test_the_application_and_its_key_are_written_together_in_three_round_trips(
    counting: httpx.AsyncClient, http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    venue, lottery = await open_lottery(http, actors, perUserCap=3)
    person = await actors.resident()
    # Once, so each statement is prepared on the connection (a pool's cost, not an application's).
    assert (await apply(counting, lottery["id"], venue, keyed(person), (10, 10))).status_code == 201

    headers = keyed(person)
    applied = await apply(counting, lottery["id"], venue, headers, (11, 10), (12, 9))
    assert applied.status_code == 201, applied.text
    assert statements(applied) == 3  # the session lookup, the read, the application with its key
    await assert_key_written_by_command(
        db, headers["Idempotency-Key"], status=201, ref=f"/v1/lottery-applications/{applied.json()['id']}"
    )
    # The times as sent (Japan time), answered in UTC: the same instants.
    sent = [next_month_day(day, hour)[1] for day, hour in ((11, 10), (12, 9))]
    answered = applied.json()["preferences"]
    for preference, slot in zip(answered, sent, strict=True):
        assert preference["start"].endswith("Z")
        assert datetime.fromisoformat(preference["start"]) == datetime.fromisoformat(slot["start"])
        assert datetime.fromisoformat(preference["end"]) == datetime.fromisoformat(slot["end"])
    assert datetime.fromisoformat(answered[0]["start"]).astimezone(UTC).hour == 1  # 10:00 in Tokyo


async def test_concurrent_duplicates_apply_once_and_all_get_the_application(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    venue, lottery = await open_lottery(http, actors, perUserCap=3)
    person = await actors.resident()
    headers = keyed(person)
    answers = await asyncio.gather(*(apply(http, lottery["id"], venue, headers, (10, 10)) for _ in range(10)))
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers if a.status_code != 201]
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 9
    assert await applications_of(db, lottery["id"], person) == 1


async def test_a_retry_gets_the_same_application_and_another_body_is_refused(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    venue, lottery = await open_lottery(http, actors, perUserCap=3)
    person = await actors.resident()
    headers = keyed(person)
    applied = await apply(http, lottery["id"], venue, headers, (10, 10), (10, 11))
    assert applied.status_code == 201, applied.text

    again = await apply(http, lottery["id"], venue, headers, (10, 10), (10, 11))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == applied.headers["content-type"]
    assert again.content == applied.content
    assert_problem(await apply(http, lottery["id"], venue, headers, (10, 12)), 422, "idempotency-key-reused")
    assert await applications_of(db, lottery["id"], person) == 1


async def test_a_refusal_is_replayed(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    venue, lottery = await open_lottery(http, actors, perUserCap=1)
    person = await actors.resident()
    assert (await apply(http, lottery["id"], venue, keyed(person), (10, 10))).status_code == 201
    headers = keyed(person)
    assert_problem(await apply(http, lottery["id"], venue, headers, (11, 10)), 409, "cap-reached")

    again = await apply(http, lottery["id"], venue, headers, (11, 10))
    assert_problem(again, 409, "cap-reached")
    assert again.headers["idempotent-replayed"] == "true"
    assert await applications_of(db, lottery["id"], person) == 1


async def test_an_application_is_read_by_its_applicant_only(http: httpx.AsyncClient, actors: Actors) -> None:
    venue, lottery = await open_lottery(http, actors)
    person, stranger = await actors.resident(), await actors.resident()
    applied = await apply(http, lottery["id"], venue, person.headers, (10, 10))
    assert applied.status_code == 201, applied.text
    path = f"/v1/lottery-applications/{applied.json()['id']}"

    shown = await http.get(path, headers=person.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json() == applied.json()
    # The facility's staff see applications under pseudonyms on the lottery, not here.
    for outsider in (stranger, venue.staff):
        assert_problem(await http.get(path, headers=outsider.headers), 404)
    assert_problem(await http.get("/v1/lottery-applications/999999999", headers=person.headers), 404)
    assert_problem(await http.get(path), 401)
