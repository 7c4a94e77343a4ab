from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.facilities.service import FacilityService
from backend.facilities.slots import TOKYO
from backend.lottery.draw import commitment
from backend.lottery.verify import verify_published
from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import Actor, Actors, assert_problem


def next_month_day(day: int, hour: int) -> tuple[str, dict[str, str]]:
    """A slot in the month after next (JST), and that month as YYYY-MM."""
    today = datetime.now(TOKYO).date()
    first = (today.replace(day=1) + timedelta(days=62)).replace(day=1)
    start = datetime.combine(first.replace(day=day), time(hour), TOKYO)
    return first.strftime("%Y-%m"), {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


async def create_lottery(http: httpx.AsyncClient, venue: Venue, **overrides: Any) -> dict[str, Any]:
    month, _ = next_month_day(1, 10)
    now = datetime.now(UTC)
    body = {
        "resourceIds": [venue.resource_id],
        "month": month,
        "opensAt": (now - timedelta(minutes=1)).isoformat(),
        "closesAt": (now + timedelta(days=1)).isoformat(),
        "firstComeAt": (now + timedelta(days=2)).isoformat(),
        "perUserCap": 2,
        "confirmHours": 48,
        **overrides,
    }
    response = await http.post("/v1/lotteries", json=body, headers=venue.staff.headers)
    assert response.status_code == 201, response.text
    lottery: dict[str, Any] = response.json()
    return lottery


async def apply(
    http: httpx.AsyncClient, person: Actor, lottery_id: int, venue: Venue, *days_hours: tuple[int, int]
) -> httpx.Response:
    preferences = [{"resourceId": venue.resource_id, **next_month_day(day, hour)[1]} for day, hour in days_hours]
    return await http.post(
        f"/v1/lotteries/{lottery_id}/applications", json={"preferences": preferences}, headers=person.headers
    )


async def test_lottery_from_commitment_to_verified_draw(
    http: httpx.AsyncClient,
    actors: Actors,
    db: asyncpg.Pool,
    clock: MovableClock,
    ctx: AppContext,
    base_url: str,
) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue)
    assert lottery["state"] == "open"
    assert len(lottery["seedCommitment"]) == 64
    assert "seed" not in lottery

    residents = [await actors.resident() for _ in range(3)]
    visitors = [await actors.resident() for _ in range(3)]
    for person in residents:
        await actors.lives_in(person, 1)
    for person in visitors:
        await actors.lives_in(person, 9)
    # Everyone wants the 10th at 10:00 first; second and third choices differ.
    for n, person in enumerate([*residents, *visitors]):
        applied = await apply(http, person, lottery["id"], venue, (10, 10), (10, 11 + n % 3), (11, 9 + n))
        assert applied.status_code == 201, applied.text
        assert applied.json()["resident"] is (person in residents)
    assert (await apply(http, residents[0], lottery["id"], venue, (12, 10))).status_code == 201
    assert_problem(await apply(http, residents[0], lottery["id"], venue, (12, 11)), 409, "cap-reached")
    this_month = datetime.combine(datetime.now(TOKYO).date() + timedelta(days=1), time(10), TOKYO)
    wrong_month = {"resourceId": venue.resource_id, "start": this_month.isoformat(),
                   "end": (this_month + timedelta(hours=1)).isoformat()}  # fmt: skip
    refused = await http.post(
        f"/v1/lotteries/{lottery['id']}/applications", json={"preferences": [wrong_month]}, headers=residents[1].headers
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "$.preferences[0].start"

    # First-come booking of that month waits for the lottery.
    first_come = {"resourceId": venue.resource_id, **next_month_day(20, 15)[1]}
    assert_problem(await http.post("/v1/bookings", json=first_come, headers=visitors[0].headers), 409, "lottery-only")
    assert_problem(await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=venue.staff.headers), 409)

    clock.advance(timedelta(days=1, minutes=1))
    late = await actors.resident()
    assert_problem(await apply(http, late, lottery["id"], venue, (10, 10)), 409, "lottery-not-open")
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    drawn = await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers)
    assert drawn.status_code == 200, drawn.text
    result = drawn.json()
    assert result["state"] == "drawn"
    assert commitment(bytes.fromhex(result["seed"])) == lottery["seedCommitment"]
    assert verify_published(result) == []
    assert_problem(await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers), 409, "already-drawn")

    # The contested first choice went to a resident.
    by_application = {a["applicationId"]: a for a in result["applications"]}
    contested = datetime.fromisoformat(next_month_day(10, 10)[1]["start"])
    [winner] = [
        r["applicationId"]
        for r in result["results"]
        if r["wonRank"] is not None
        and datetime.fromisoformat(by_application[r["applicationId"]]["preferences"][r["wonRank"] - 1]["start"])
        == contested
    ]
    assert by_application[winner]["resident"] is True
    bookings = await db.fetch("SELECT account_id, status, pay_by FROM bookings ORDER BY id")
    winners = sum(r["wonRank"] is not None for r in result["results"])
    assert len(bookings) == winners
    assert {b["status"] for b in bookings} == {"provisional"}
    events = await db.fetch("SELECT topic, payload FROM outbox WHERE type = 'lottery.result'")
    assert len(events) == len(result["results"])
    for event in events:
        assert set(json.loads(event["payload"])) <= {"type", "lotteryId", "applicationId", "won", "bookingId"}

    # Anyone can verify it from the API alone.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.processes.cli", "lottery", "verify", str(lottery["id"]), "--api", base_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, (out, err)
    assert b"verified" in out

    # Unconfirmed wins are released at the deadline; the slots open for first-come booking.
    clock.advance(timedelta(hours=49))
    assert await FacilityService(ctx).release_expired() == winners
    assert set(await db.fetch("SELECT DISTINCT status FROM bookings")) == {("released",)}
    walk_in = await actors.resident()
    booked = await http.post(
        "/v1/bookings", json={"resourceId": venue.resource_id, **next_month_day(10, 10)[1]}, headers=walk_in.headers
    )
    assert booked.status_code == 201, booked.text


async def test_free_win_is_confirmed_by_the_winner(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, clock: MovableClock
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    lottery = await create_lottery(http, venue)
    person = await actors.resident()
    assert (await apply(http, person, lottery["id"], venue, (15, 10))).status_code == 201
    clock.advance(timedelta(days=1, minutes=1))
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    person = await actors.login(person.email, person.account_id)
    await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers)
    booking_id = await db.fetchval("SELECT id FROM bookings")
    other = await actors.resident()
    assert_problem(await http.post(f"/v1/bookings/{booking_id}/confirm", headers=other.headers), 404)
    confirmed = await http.post(f"/v1/bookings/{booking_id}/confirm", headers=person.headers)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"


async def test_applications_before_the_window_get_409(http: httpx.AsyncClient, actors: Actors) -> None:
    venue = await make_venue(http, actors)
    now = datetime.now(UTC)
    lottery = await create_lottery(
        http, venue, opensAt=(now + timedelta(hours=1)).isoformat(), closesAt=(now + timedelta(hours=2)).isoformat()
    )
    assert lottery["state"] == "scheduled"
    person = await actors.resident()
    assert_problem(await apply(http, person, lottery["id"], venue, (10, 10)), 409, "lottery-not-open")
    other_staff = await actors.member("municipality", "staff")
    body = {"resourceIds": [venue.resource_id], "month": lottery["month"][:7], "opensAt": lottery["opensAt"],
            "closesAt": lottery["closesAt"], "perUserCap": 1}  # fmt: skip
    assert_problem(await http.post("/v1/lotteries", json=body, headers=other_staff.headers), 404)


async def test_lotteries_are_listed_and_applicants_see_their_results(
    http: httpx.AsyncClient, actors: Actors, clock: MovableClock
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    lottery = await create_lottery(http, venue)
    listed = (await http.get("/v1/lotteries", params={"state": "open"})).json()
    assert [item["id"] for item in listed] == [lottery["id"]]
    assert "seed" not in listed[0]
    person = await actors.resident()
    assert (await apply(http, person, lottery["id"], venue, (9, 10))).status_code == 201
    mine = (await http.get("/v1/me/lottery-applications", headers=person.headers)).json()
    assert [(m["lotteryId"], m["state"], m["wonRank"]) for m in mine] == [(lottery["id"], "open", None)]
    clock.advance(timedelta(days=1, minutes=1))
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    person = await actors.login(person.email, person.account_id)
    await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers)
    assert (await http.get("/v1/lotteries", params={"state": "open"})).json() == []
    mine = (await http.get("/v1/me/lottery-applications", headers=person.headers)).json()
    assert [(m["state"], m["wonRank"]) for m in mine] == [("drawn", 1)]
    assert mine[0]["bookingId"] is not None
    assert_problem(await http.get("/v1/lotteries", params={"state": "nonsense"}), 400)


async def test_applied_slot_cannot_be_sniped_between_the_close_and_the_draw(
    http: httpx.AsyncClient, actors: Actors, clock: MovableClock
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    early = await actors.resident()
    before = await http.post(
        "/v1/bookings", json={"resourceId": venue.resource_id, **next_month_day(5, 9)[1]}, headers=early.headers
    )
    assert before.status_code == 201, before.text
    lottery = await create_lottery(http, venue, firstComeAt=None)  # first-come from the close, by default
    assert lottery["firstComeAt"] == lottery["closesAt"]
    applicant = await actors.resident()
    assert (await apply(http, applicant, lottery["id"], venue, (10, 10))).status_code == 201

    clock.advance(timedelta(days=1, minutes=1))  # closed, not drawn yet
    sniper = await actors.resident()
    for day, hour in ((10, 10), (12, 15)):
        body = {"resourceId": venue.resource_id, **next_month_day(day, hour)[1]}
        assert_problem(await http.post("/v1/bookings", json=body, headers=sniper.headers), 409, "lottery-only")
    closed = (await http.get(f"/v1/lotteries/{lottery['id']}")).json()
    assert closed["state"] == "closed"
    published_at_close = closed["taken"]
    assert [datetime.fromisoformat(t["start"]) for t in published_at_close] == [
        datetime.fromisoformat(next_month_day(5, 9)[1]["start"])
    ]

    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    drawn = await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers)
    assert drawn.status_code == 200, drawn.text
    assert drawn.json()["taken"] == published_at_close
    assert [r["wonRank"] for r in drawn.json()["results"]] == [1]
    assert verify_published(drawn.json()) == []

    # Drawn and past firstComeAt: first-come opens, and the win stays the applicant's.
    won = {"resourceId": venue.resource_id, **next_month_day(10, 10)[1]}
    assert_problem(await http.post("/v1/bookings", json=won, headers=sniper.headers), 409, "slot-taken")
    other = {"resourceId": venue.resource_id, **next_month_day(12, 15)[1]}
    assert (await http.post("/v1/bookings", json=other, headers=sniper.headers)).status_code == 201


async def test_the_same_slot_twice_in_one_application_gets_422_and_stores_nothing(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue)
    person = await actors.resident()
    refused = await apply(http, person, lottery["id"], venue, (10, 10), (11, 10), (10, 10))
    problem = assert_problem(refused, 422)
    assert [error["field"] for error in problem["errors"]] == ["$.preferences[2]"]
    assert "preference 1" in problem["errors"][0]["message"]
    assert (await http.get("/v1/me/lottery-applications", headers=person.headers)).json() == []
    assert (await apply(http, person, lottery["id"], venue, (10, 10), (11, 10))).status_code == 201
