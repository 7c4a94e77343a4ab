"""The calendar feed as calendar apps see it: a secret URL polled without a login, parsed by
two parsers we did not write (icalendar, and Mozilla's ical.js under node)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from icalendar import Calendar

from backend.core.clock import MovableClock
from backend.facilities.slots import TOKYO
from tests.integration.childcare.test_childcare import Nursery, child_of, in_days, session, years_before
from tests.integration.facilities.conftest import Venue, make_venue
from tests.support import Actor, Actors, assert_problem

ICALJS = Path(__file__).parent / "icaljs"


@pytest.fixture(scope="session")
def icaljs() -> Path:
    """ical.js installed from its lock file into the test-only folder (once; npm caches it)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to parse the feed with ical.js")
    if not (ICALJS / "node_modules" / "ical.js").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ICALJS, check=True, timeout=300
        )
    return ICALJS / "parse.mjs"


async def parse_with_icaljs(script: Path, feed: bytes) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "node", str(script), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate(feed)
    assert process.returncode == 0, err.decode()
    parsed: dict[str, Any] = json.loads(out)
    return parsed


async def subscribe(http: httpx.AsyncClient, person: Actor) -> str:
    response = await http.post("/v1/me/calendar-feed", headers=person.headers)
    assert response.status_code == 201, response.text
    feed = response.json()
    assert feed["url"].endswith(".ics")
    assert feed["webcalUrl"] == "webcal://" + feed["url"].split("://", 1)[1]
    url: str = feed["url"]
    return url


def events_by_uid(body: bytes) -> dict[str, Any]:
    return {str(e["uid"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


@pytest.fixture
async def venue(http: httpx.AsyncClient, actors: Actors) -> Venue:
    return await make_venue(http, actors)


@pytest.fixture
async def nursery(actors: Actors) -> Nursery:
    nursery_id = await actors.organization("nursery", "さくら保育園", municipality_id=1)
    return Nursery(nursery_id, await actors.member("nursery", "staff", nursery_id))


async def test_feed_url_subscribes_without_a_login_and_shows_every_kind_of_entry(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, nursery: Nursery, icaljs: Path
) -> None:
    person = await actors.resident()
    provisional = (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)).json()
    cancelled = (await http.post("/v1/bookings", json=venue.slot(3, 12), headers=person.headers)).json()
    assert (await http.post(f"/v1/bookings/{cancelled['id']}/cancel", headers=person.headers)).status_code == 200
    child = await child_of(http, person, years_before(in_days(5), 4), approve_at=nursery)
    reservation = await http.post(
        "/v1/childcare/reservations",
        json={"sessionId": await session(http, nursery, in_days(5)), "childId": child},
        headers=person.headers,
    )
    assert reservation.status_code == 201, reservation.text
    url = await subscribe(http, person)

    response = await http.get(url)  # no Authorization header: the URL is the credential
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert "METHOD" not in calendar
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    events = events_by_uid(response.content)
    held = events[f"booking-{provisional['id']}@musubi.jp"]
    assert str(held["status"]) == "TENTATIVE"
    pay_by = datetime.fromisoformat(provisional["payBy"]).astimezone(TOKYO)
    assert f"{pay_by:%Y-%m-%d %H:%M}" in str(held["description"])
    assert f"{provisional['fee']:,} 円" in str(held["description"])
    gone = events[f"booking-{cancelled['id']}@musubi.jp"]
    assert str(gone["status"]) == "CANCELLED"
    assert gone["sequence"] == 1
    care = events[f"childcare-{reservation.json()['id']}@musubi.jp"]
    assert str(care["status"]) == "CONFIRMED"
    assert "さくら保育園" in str(care["summary"])
    assert care.decoded("dtstart") == datetime.combine(in_days(5), datetime.min.time(), TOKYO).replace(
        hour=8, minute=30
    )

    seen = await parse_with_icaljs(icaljs, response.content)
    assert seen["method"] is None
    assert (seen["refreshInterval"], seen["publishedTtl"]) == ("PT1H", "PT1H")
    by_uid = {e["uid"]: e for e in seen["events"]}
    assert set(by_uid) == set(events)
    assert by_uid[f"booking-{cancelled['id']}@musubi.jp"]["status"] == "CANCELLED"
    assert by_uid[f"booking-{cancelled['id']}@musubi.jp"]["sequence"] == 1
    assert by_uid[f"booking-{provisional['id']}@musubi.jp"]["status"] == "TENTATIVE"
    assert f"{pay_by:%Y-%m-%d %H:%M}" in by_uid[f"booking-{provisional['id']}@musubi.jp"]["description"]
    assert by_uid[f"childcare-{reservation.json()['id']}@musubi.jp"]["start"] == (
        datetime.combine(in_days(5), datetime.min.time(), TOKYO).replace(hour=8, minute=30).astimezone(UTC)
    ).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # The download for the signed-in person is the same calendar.
    download = await http.get("/v1/me/calendar.ics", headers=person.headers)
    assert download.headers["content-type"] == "text/calendar; charset=utf-8"
    assert set(events_by_uid(download.content)) == set(events)


async def test_a_change_keeps_the_uid_and_raises_sequence_and_last_modified(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, icaljs: Path
) -> None:
    person = await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(4, 10), headers=person.headers)).json()
    url = await subscribe(http, person)
    uid = f"booking-{booking['id']}@musubi.jp"
    before = await http.get(url)
    first = events_by_uid(before.content)[uid]
    await asyncio.sleep(1.1)  # LAST-MODIFIED has whole seconds
    paid = await http.post(f"/v1/bookings/{booking['id']}/payment", headers=venue.staff.headers)
    assert paid.status_code == 200, paid.text
    after = await http.get(url)
    second = events_by_uid(after.content)[uid]
    assert (str(first["status"]), str(second["status"])) == ("TENTATIVE", "CONFIRMED")
    assert second["sequence"] > first["sequence"]
    assert second["last-modified"].dt > first["last-modified"].dt
    assert second["dtstamp"].dt == second["last-modified"].dt
    assert after.headers["etag"] != before.headers["etag"]
    seen = {e["uid"]: e for e in (await parse_with_icaljs(icaljs, after.content))["events"]}
    assert (seen[uid]["status"], seen[uid]["sequence"]) == ("CONFIRMED", second["sequence"])


async def test_polling_with_validators_gets_304_until_something_changes(
    http: httpx.AsyncClient, actors: Actors, venue: Venue
) -> None:
    person = await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(5, 10), headers=person.headers)).json()
    url = await subscribe(http, person)
    first = await http.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert (await http.get(url)).content == first.content  # the same data gives the same bytes
    unchanged = await http.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert (await http.get(url, headers={"If-None-Match": f'"other", W/{etag}'})).status_code == 304
    assert (await http.get(url, headers={"If-Modified-Since": last_modified})).status_code == 304
    assert (await http.get(url, headers={"If-Modified-Since": "yesterday"})).status_code == 200
    await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers)
    changed = await http.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert str(events_by_uid(changed.content)[f"booking-{booking['id']}@musubi.jp"]["status"]) == "CANCELLED"


async def test_a_replaced_or_revoked_feed_url_answers_404(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person, other = await actors.resident(), await actors.resident()
    old = await subscribe(http, person)
    new = await subscribe(http, person)
    theirs = await subscribe(http, other)
    assert_problem(await http.get(old), 404)
    assert (await http.get(new)).status_code == 200
    # Only a hash is kept: the token itself is nowhere in the database.
    token = new.rsplit("/", 1)[1].removesuffix(".ics")
    stored = await db.fetch("SELECT token_sha256 FROM calendar_feeds")
    assert len(stored) == 2
    assert all(token.encode() not in bytes(row["token_sha256"]) for row in stored)
    assert (await http.delete("/v1/me/calendar-feed", headers=person.headers)).status_code == 204
    assert_problem(await http.get(new), 404)
    assert (await http.get(theirs)).status_code == 200  # someone else's revocation is not theirs
    base = new.rsplit("/", 1)[0]
    for wrong in ("x.ics", token, f"{token}.ical", f"{'A' * 43}.ics", f"{token[:-1]}$.ics"):
        assert_problem(await http.get(f"{base}/{wrong}"), 404)
    assert_problem(await http.post("/v1/me/calendar-feed"), 401)
    assert_problem(await http.delete("/v1/me/calendar-feed"), 401)


async def test_cancelled_entries_stay_thirty_days_then_leave(
    http: httpx.AsyncClient, actors: Actors, venue: Venue, clock: MovableClock
) -> None:
    person = await actors.resident()
    booking = (await http.post("/v1/bookings", json=venue.slot(3, 10), headers=person.headers)).json()
    await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=person.headers)
    url = await subscribe(http, person)
    uid = f"booking-{booking['id']}@musubi.jp"
    clock.advance(timedelta(days=29))
    kept = await http.get(url)
    assert str(events_by_uid(kept.content)[uid]["status"]) == "CANCELLED"
    clock.advance(timedelta(days=2))
    gone = await http.get(url)
    assert uid not in events_by_uid(gone.content)
    # Leaving changed the feed, so a client holding the old date must not be told "not modified".
    assert (await http.get(url, headers={"If-Modified-Since": kept.headers["last-modified"]})).status_code == 200
