"""`musubi seed --scale ibaraki`: a year of facility bookings at prefecture scale.

About 20 municipalities, 800 facilities, 3,000 resources and ~400,000 bookings from half a
year ago to half a year ahead, written with binary COPY in batches. Deterministic (fixed
random seed), and refused when the data is already there.
"""

from __future__ import annotations

import random
import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
from asyncpg import Range

from backend.facilities.slots import TOKYO

MUNICIPALITIES = 20
FACILITIES_PER_MUNICIPALITY = 40
RESOURCES_PER_FACILITY = (3, 4, 4, 4)  # cycles: 800 facilities → 3,000 resources
BOOKINGS = 400_000
RESIDENTS = 5_000
OPENS, CLOSES = 9, 21
KINDS = ("gym", "court", "meeting_room", "pool", "field", "hall", "studio")
RESOURCE_NAMES = {
    "gym": ("メインアリーナ", "サブアリーナ", "武道場", "トレーニング室"),
    "court": ("テニスコートA", "テニスコートB", "テニスコートC", "テニスコートD"),
    "meeting_room": ("会議室1", "会議室2", "和室", "多目的室"),
    "pool": ("25mプール", "50mプール", "幼児用プール", "ジャグジー"),
    "field": ("野球場", "サッカー場", "多目的広場", "陸上競技場"),
    "hall": ("大ホール", "小ホール", "リハーサル室", "展示室"),
    "studio": ("音楽スタジオ", "ダンススタジオ", "工芸室", "調理室"),
}
SEED_MARKER = "seed:ibaraki"
BATCH = 20_000

Progress = Callable[[str, int, int], None]


def print_progress(stage: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r  {stage:<12} [{'#' * filled}{'.' * (width - filled)}] {done:>9,}/{total:,}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def seed_ibaraki(
    database_url: str, progress: Progress = print_progress, bookings: int = BOOKINGS
) -> dict[str, int]:
    rng = random.Random(20_261_126)  # noqa: S311 - reproducible demo data, not secrets
    started = clock.monotonic()
    now = datetime.now(UTC)
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        if await conn.fetchval("SELECT true FROM organizations WHERE name = $1 LIMIT 1", SEED_MARKER):
            raise SystemExit("the ibaraki data set is already loaded in this database")
        municipalities = await conn.fetch(
            "SELECT id, name_ja, lat, lon FROM municipalities ORDER BY id LIMIT $1", MUNICIPALITIES
        )
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO organizations (kind, name, municipality_id, created_at) VALUES ('prefecture', $1, 1, $2)",
                SEED_MARKER,
                now,
            )
            org_ids = [
                await conn.fetchval(
                    "INSERT INTO organizations (kind, name, municipality_id, created_at)"
                    " VALUES ('municipality', $1, $2, $3) RETURNING id",
                    f"{m['name_ja']} (scale)",
                    m["id"],
                    now,
                )
                for m in municipalities
            ]

            facility_rows = []
            for index, (municipality, org_id) in enumerate(zip(municipalities, org_ids, strict=True)):
                for n in range(FACILITIES_PER_MUNICIPALITY):
                    kind = KINDS[(index + n) % len(KINDS)]
                    facility_rows.append(
                        (
                            org_id,
                            municipality["id"],
                            f"{municipality['name_ja']} {kind} {n + 1}",
                            kind,
                            f"{municipality['name_ja']} {n + 1}-{rng.randint(1, 30)}",
                            municipality["lat"] + rng.uniform(-0.05, 0.05),
                            municipality["lon"] + rng.uniform(-0.05, 0.05),
                            now,
                        )
                    )
            await conn.copy_records_to_table(
                "facilities",
                records=facility_rows,
                columns=["organization_id", "municipality_id", "name", "kind", "address", "lat", "lon", "created_at"],
            )
            progress("facilities", len(facility_rows), len(facility_rows))
            facilities = await conn.fetch(
                "SELECT id, kind FROM facilities WHERE organization_id = ANY($1::bigint[]) ORDER BY id", org_ids
            )
            resource_rows = []
            for n, facility in enumerate(facilities):
                for r in range(RESOURCES_PER_FACILITY[n % len(RESOURCES_PER_FACILITY)]):
                    fee = rng.choice((0, 200, 500, 800, 1200, 2000))
                    resource_rows.append(
                        (
                            facility["id"],
                            RESOURCE_NAMES[facility["kind"]][r],
                            60,
                            time(OPENS),
                            time(CLOSES),
                            fee,
                            fee + fee // 2 if fee else None,
                            24,
                            72,
                            rng.random() < 0.3,
                            rng.choice((None, 4, 8)),
                            30,
                            False,
                            now,
                        )
                    )
            await conn.copy_records_to_table(
                "resources",
                records=resource_rows,
                columns=[
                    "facility_id", "name", "unit_minutes", "opens_at", "closes_at", "fee_per_unit",
                    "non_resident_fee_per_unit", "cancel_deadline_hours", "payment_deadline_hours", "pay_at_counter",
                    "max_bookings_per_month", "waitlist_hold_minutes", "lottery_only", "created_at",
                ],
            )  # fmt: skip
            progress("resources", len(resource_rows), len(resource_rows))
            resources = await conn.fetch(
                "SELECT r.id, r.fee_per_unit FROM resources r JOIN facilities f ON f.id = r.facility_id"
                " WHERE f.organization_id = ANY($1::bigint[]) ORDER BY r.id",
                org_ids,
            )

            first_resident = await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM accounts")
            await conn.copy_records_to_table(
                "accounts",
                records=[
                    (f"resident{first_resident + n}@scale.musubi.jp", "!seed-account-no-login", "住民", "ja",
                     municipalities[n % len(municipalities)]["id"], now, now)
                    for n in range(RESIDENTS)
                ],
                # Verified, like anyone who books (booking needs a verified e-mail).
                columns=["email", "password_hash", "display_name", "locale", "municipality_id", "created_at",
                         "email_verified_at"],
            )  # fmt: skip
            account_ids = [
                r["id"]
                for r in await conn.fetch("SELECT id FROM accounts WHERE email LIKE '%@scale.musubi.jp' ORDER BY id")
            ]
            progress("residents", len(account_ids), len(account_ids))

            today = now.astimezone(TOKYO).date()
            first_day = today - timedelta(days=182)
            taken: set[tuple[int, date, int]] = set()
            batch: list[tuple[object, ...]] = []
            written = 0
            while written + len(batch) < bookings:
                resource = resources[rng.randrange(len(resources))]
                day = first_day + timedelta(days=rng.randrange(365))
                hour = rng.randrange(OPENS, CLOSES - 1)
                units = 1 if rng.random() < 0.7 else 2
                if any((resource["id"], day, hour + u) in taken for u in range(units)):
                    continue
                taken.update((resource["id"], day, hour + u) for u in range(units))
                start = datetime.combine(day, time(hour), TOKYO)
                end = start + timedelta(hours=units)
                fee = resource["fee_per_unit"] * units
                future = start > now
                provisional = future and fee > 0 and rng.random() < 0.1
                batch.append(
                    (
                        resource["id"],
                        account_ids[rng.randrange(len(account_ids))],
                        Range(start, end),
                        "provisional" if provisional else "confirmed",
                        fee,
                        min(now + timedelta(hours=72), start) if provisional else None,
                        min(start - timedelta(days=30), now),
                    )
                )
                if len(batch) == BATCH:
                    written += await _copy_bookings(conn, batch)
                    batch = []
                    progress("bookings", written, bookings)
            if batch:
                written += await _copy_bookings(conn, batch)
                progress("bookings", written, bookings)
        await conn.execute("ANALYZE facilities; ANALYZE resources; ANALYZE bookings")
    finally:
        await conn.close()
    return {
        "municipalities": len(municipalities),
        "facilities": len(facility_rows),
        "resources": len(resource_rows),
        "bookings": written,
        "seconds": round(clock.monotonic() - started),
    }


async def _copy_bookings(conn: asyncpg.Connection, rows: list[tuple[object, ...]]) -> int:
    await conn.copy_records_to_table(
        "bookings",
        records=rows,
        columns=["resource_id", "account_id", "during", "status", "fee", "pay_by", "created_at"],
    )
    return len(rows)
