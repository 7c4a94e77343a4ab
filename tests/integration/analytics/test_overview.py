"""The prefecture's dashboard: weekly aggregates over every context, and nothing about a person."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.support import Actors, assert_problem

TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY = datetime(2030, 1, 7, tzinfo=TOKYO)


async def a_week_of_everything(db: asyncpg.Pool, actors: Actors) -> None:
    person = await actors.resident()
    operator = await actors.organization("municipality", municipality_id=16)
    nursery = await actors.organization("nursery")
    center = await actors.organization("guidance_center")
    fire = await actors.organization("fire_department")
    hospitals = [await actors.organization("hospital") for _ in range(4)]
    at = MONDAY + timedelta(days=1, hours=10)
    async with db.acquire() as conn, conn.transaction():
        facility = await conn.fetchval(
            "INSERT INTO facilities (organization_id, municipality_id, name, kind, address, lat, lon, created_at)"
            " VALUES ($1, 16, 'Gym', 'gym', 'Tsukuba', 36.08, 140.08, $2) RETURNING id", operator, at,
        )  # fmt: skip
        resource = await conn.fetchval(
            "INSERT INTO resources (facility_id, name, unit_minutes, opens_at, closes_at, fee_per_unit,"
            " cancel_deadline_hours, payment_deadline_hours, waitlist_hold_minutes, created_at)"
            " VALUES ($1, 'Arena', 60, '09:00', '17:00', 0, 0, 24, 30, $2) RETURNING id", facility, at,
        )  # fmt: skip
        for hour, status in ((9, "confirmed"), (13, "provisional"), (15, "cancelled")):
            start = at.replace(hour=hour)
            await conn.execute(
                "INSERT INTO bookings (resource_id, account_id, during, status, fee, pay_by, created_at)"
                " VALUES ($1, $2, tstzrange($3, $4), $5, 0, $4, $3)",
                resource, person.account_id, start, start + timedelta(hours=2), status,
            )  # fmt: skip
        session = await conn.fetchval(
            "INSERT INTO childcare_sessions (nursery_id, day, block, created_at) VALUES ($1, $2, 'morning', $3)"
            " RETURNING id", nursery, at.date(), at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO childcare_places (session_id, band, capacity, used)"
            " VALUES ($1, '3-5', 10, 4), ($1, '0', 2, 2)",
            session,
        )
        for status, placed_at, cancelled_at in (("placed", at + timedelta(minutes=90), None),
                                                ("cancelled", None, at + timedelta(hours=1))):  # fmt: skip
            await conn.execute(
                "INSERT INTO intake_requests (guidance_center_id, created_by, created_at, age_years, sex, category,"
                " needs, urgency, status, placed_at, cancelled_at)"
                " VALUES ($1, $2, $3, 8, 'female', '6-12:female', '{}', 'urgent', $4, $5, $6)",
                center, person.account_id, at, status, placed_at, cancelled_at,
            )  # fmt: skip
        for asked in (hospitals, hospitals[:1]):
            case = await conn.fetchval(
                "INSERT INTO ems_cases (fire_department_id, opened_by, opened_at) VALUES ($1, $2, $3) RETURNING id",
                fire, person.account_id, at,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO ems_requests (case_id, hospital_id, status, sent_at)"
                " SELECT $1, unnest($2::bigint[]), 'declined', $3", case, asked, at,
            )  # fmt: skip


async def test_prefecture_sees_a_weeks_figures_per_municipality_kind_band(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    await a_week_of_everything(db, actors)
    admin = await actors.prefecture_admin()
    week = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=7)).isoformat()}
    response = await http.get("/v1/stats/overview", params=week, headers=admin.headers)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["bookings"] == [{
        "week": "2030-01-07", "municipalityId": 16, "facilityKind": "gym", "bookings": 2, "bookedHours": 4.0,
        "openHours": 56.0, "utilisation": 4.0 / 56.0,
    }]  # fmt: skip
    assert {c["band"]: (c["capacity"], c["reserved"], c["fillRate"]) for c in stats["childcare"]} == {
        "0": (2, 2, 1.0), "3-5": (10, 4, 0.4)
    }  # fmt: skip
    [intake] = stats["intake"]
    assert (intake["requests"], intake["placed"], intake["cancelled"]) == (2, 1, 1)
    assert intake["medianMinutesToPlacement"] == 90.0
    [ems] = stats["ems"]
    assert (ems["cases"], ems["meanInquiriesPerCase"], ems["casesNeeding4OrMore"]) == (2, 2.5, 1)
    assert ems["shareNeeding4OrMore"] == 0.5
    # Aggregates only: no id of a person, a case or a request anywhere.
    text = response.text
    for word in ("accountId", "caseId", "requestId", "childId", "name"):
        assert word not in text
    # The week after is empty.
    later = {"from": (MONDAY + timedelta(days=7)).isoformat(), "to": (MONDAY + timedelta(days=14)).isoformat()}
    empty = (await http.get("/v1/stats/overview", params=later, headers=admin.headers)).json()
    assert (empty["childcare"], empty["intake"], empty["ems"]) == ([], [], [])
    assert empty["bookings"][0]["bookings"] == 0


async def test_overview_refuses_backwards_or_overlong_ranges(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    backwards = {"from": MONDAY.isoformat(), "to": (MONDAY - timedelta(days=1)).isoformat()}
    assert_problem(await http.get("/v1/stats/overview", params=backwards, headers=admin.headers), 400)
    too_long = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=400)).isoformat()}
    assert_problem(await http.get("/v1/stats/overview", params=too_long, headers=admin.headers), 400)
    hospital_admin = await actors.member("hospital", "admin")
    assert_problem(await http.get("/v1/stats/overview", headers=hospital_admin.headers), 403)
