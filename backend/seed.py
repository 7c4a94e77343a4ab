"""Demo data: the accounts of API.md and an organisation of each kind in Ibaraki."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import asyncpg
from argon2 import PasswordHasher

from backend.clock import SystemClock
from backend.facilities.slots import TOKYO
from backend.settings import Settings

DEMO_PASSWORD = "musubi-demo-pass"  # noqa: S105 - published in API.md for the demo accounts
DEMO_DOMAIN = "demo.musubi.jp"


@dataclass(frozen=True)
class DemoOrganization:
    key: str
    kind: str
    name: str
    municipality: str  # English name, as in municipalities.name_en


@dataclass(frozen=True)
class DemoAccount:
    local_part: str
    display_name: str
    organization: str | None  # DemoOrganization.key
    role: str | None


DEMO_ORGANIZATIONS = (
    DemoOrganization("prefecture", "prefecture", "茨城県 Ibaraki Prefecture", "Mito"),
    DemoOrganization("mito", "municipality", "水戸市 Mito City", "Mito"),
    DemoOrganization("tsukuba", "municipality", "つくば市 Tsukuba City", "Tsukuba"),
    DemoOrganization("sports", "facility_operator", "水戸市スポーツ振興協会 Mito Sports Association", "Mito"),
    DemoOrganization("nursery", "nursery", "さくら保育園 Sakura Nursery", "Mito"),
    DemoOrganization("nursery2", "nursery", "つくば中央保育園 Tsukuba Chuo Nursery", "Tsukuba"),
    DemoOrganization("guidance", "guidance_center", "中央児童相談所 Central Child Guidance Center", "Mito"),
    DemoOrganization("shelter", "shelter", "一時保護所みらい Mirai Temporary Shelter", "Kasama"),
    DemoOrganization("shelter2", "shelter", "児童養護施設ひかり Hikari Children's Home", "Hitachinaka"),
    DemoOrganization("fire", "fire_department", "水戸市消防本部 Mito Fire Department", "Mito"),
    DemoOrganization("hospital", "hospital", "水戸中央病院 Mito Central Hospital", "Mito"),
    DemoOrganization("hospital2", "hospital", "つくば医療センター Tsukuba Medical Center", "Tsukuba"),
    DemoOrganization("hospital3", "hospital", "日立総合病院 Hitachi General Hospital", "Hitachi"),
)

DEMO_ACCOUNTS = (
    DemoAccount("admin", "県管理者 Prefecture Admin", "prefecture", "admin"),
    DemoAccount("paramedic", "救急隊員 Paramedic", "fire", "paramedic"),
    DemoAccount("er", "救急外来 ER Staff", "hospital", "er_staff"),
    DemoAccount("caseworker", "児童福祉司 Caseworker", "guidance", "caseworker"),
    DemoAccount("shelter", "保護所職員 Shelter Staff", "shelter", "staff"),
    DemoAccount("nursery", "保育士 Nursery Staff", "nursery", "staff"),
    DemoAccount("facility", "施設職員 Facility Staff", "sports", "staff"),
    DemoAccount("parent", "保護者 Parent", None, None),
)


async def seed_demo(database_url: str, settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo data if it is not there yet; return (email, role, organisation) rows."""
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    now = SystemClock().now()
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            org_ids: dict[str, int] = {}
            for org in DEMO_ORGANIZATIONS:
                existing = await conn.fetchval(
                    "SELECT id FROM organizations WHERE name = $1 AND kind = $2", org.name, org.kind
                )
                org_ids[org.key] = existing or await conn.fetchval(
                    """
                    INSERT INTO organizations (kind, name, municipality_id, created_at)
                    SELECT $1, $2, id, $4 FROM municipalities WHERE name_en = $3
                    RETURNING id
                    """,
                    org.kind,
                    org.name,
                    org.municipality,
                    now,
                )
            await _seed_facilities(conn, org_ids, now)
            await _seed_shelter_beds(conn, org_ids, now)
            rows = []
            account_ids: dict[str, int] = {}
            for account in DEMO_ACCOUNTS:
                email = f"{account.local_part}@{DEMO_DOMAIN}"
                account_id = await conn.fetchval("SELECT id FROM accounts WHERE lower(email) = $1", email)
                if account_id is None:
                    password_hash = await asyncio.to_thread(hasher.hash, DEMO_PASSWORD)
                    account_id = await conn.fetchval(
                        """
                        INSERT INTO accounts (email, password_hash, display_name, locale, created_at)
                        VALUES ($1, $2, $3, 'ja', $4) RETURNING id
                        """,
                        email,
                        password_hash,
                        account.display_name,
                        now,
                    )
                org_name = "-"
                if account.organization is not None:
                    await conn.execute(
                        """
                        INSERT INTO memberships (organization_id, account_id, role, created_at)
                        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                        """,
                        org_ids[account.organization],
                        account_id,
                        account.role,
                        now,
                    )
                    org_name = next(o.name for o in DEMO_ORGANIZATIONS if o.key == account.organization)
                rows.append((email, account.role or "resident", org_name))
                account_ids[account.local_part] = account_id
            await _seed_demo_child(conn, org_ids, account_ids, now)
            await _seed_week_of_bookings(conn, account_ids, now)
    finally:
        await conn.close()
    return rows


DEMO_FACILITIES = (
    # (owner key, name, kind, address, lat, lon, resources: (name, unit, opens, closes, fee))
    ("mito", "水戸市総合体育館 Mito Gymnasium", "gym", "水戸市緑町", 36.370, 140.450,
     (("メインアリーナ Main arena", 60, 9, 21, 1200), ("卓球室 Table tennis", 60, 9, 21, 300))),
    ("mito", "水戸市民会館 Mito Civic Hall", "meeting_room", "水戸市泉町", 36.376, 140.474,
     (("会議室1 Room 1", 60, 9, 22, 0), ("和室 Japanese room", 120, 9, 21, 800))),
    ("sports", "千波公園テニスコート Senba Tennis Courts", "court", "水戸市千波町", 36.363, 140.458,
     (("Aコート Court A", 60, 7, 19, 500), ("Bコート Court B", 60, 7, 19, 500))),
)  # fmt: skip
DEMO_SHELTER_BEDS = (("0-5:any", 2), ("6-12:female", 4), ("6-12:male", 4), ("13-17:female", 3), ("13-17:male", 3),
                     ("special", 1))  # fmt: skip


async def _seed_facilities(conn: asyncpg.Connection, org_ids: dict[str, int], now: datetime) -> None:
    for owner, name, kind, address, lat, lon, resources in DEMO_FACILITIES:
        if await conn.fetchval("SELECT true FROM facilities WHERE name = $1", name):
            continue
        facility_id = await conn.fetchval(
            """
            INSERT INTO facilities (organization_id, municipality_id, name, kind, address, lat, lon, created_at)
            SELECT $1, municipality_id, $2, $3, $4, $5, $6, $7 FROM organizations WHERE id = $1
            RETURNING id
            """,
            org_ids[owner], name, kind, address, lat, lon, now,
        )  # fmt: skip
        for resource, unit, opens, closes, fee in resources:
            await conn.execute(
                """
                INSERT INTO resources (facility_id, name, unit_minutes, opens_at, closes_at, fee_per_unit,
                                       non_resident_fee_per_unit, cancel_deadline_hours, payment_deadline_hours,
                                       waitlist_hold_minutes, created_at)
                VALUES ($1, $2, $3, make_time($4, 0, 0), make_time($5, 0, 0), $6, $7, 24, 72, 30, $8)
                """,
                facility_id, resource, unit, opens, closes, fee, fee + fee // 2 if fee else None, now,
            )  # fmt: skip


async def _seed_shelter_beds(conn: asyncpg.Connection, org_ids: dict[str, int], now: datetime) -> None:
    for key in ("shelter", "shelter2"):
        for category, capacity in DEMO_SHELTER_BEDS:
            await conn.execute(
                "INSERT INTO shelter_units (shelter_id, category, capacity, updated_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                org_ids[key],
                category,
                capacity,
                now,
            )


DEMO_CHILD = ("佐藤 葵 Aoi Sato", ["卵 egg"], "昼寝は1時間 naps for an hour")


async def _seed_demo_child(
    conn: asyncpg.Connection, org_ids: dict[str, int], account_ids: dict[str, int], now: datetime
) -> None:
    """The parent's child, three years old, applied to Sakura Nursery and approved there (面談 done),
    so the nursery's roster and the parent's childcare search have someone to show."""
    name, allergies, notes = DEMO_CHILD
    parent, staff, nursery = account_ids["parent"], account_ids["nursery"], org_ids["nursery"]
    if await conn.fetchval("SELECT true FROM children WHERE parent_id = $1 AND name = $2", parent, name):
        return
    today = now.astimezone(TOKYO).date()
    child_id = await conn.fetchval(
        "INSERT INTO children (parent_id, name, birth_date, allergies, notes, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        parent, name, today.replace(year=today.year - 3, day=1), allergies, notes, now,
    )  # fmt: skip
    # The same two steps as over HTTP: the parent's application, then the approval answering it.
    application_id = await conn.fetchval(
        "INSERT INTO child_applications (child_id, nursery_id, status, applied_by, applied_at, decided_by, decided_at)"
        " VALUES ($1, $2, 'approved', $3, $4, $5, $4) RETURNING id",
        child_id, nursery, parent, now, staff,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO child_approvals (child_id, nursery_id, application_id, approved_by, approved_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        child_id, nursery, application_id, staff, now,
    )  # fmt: skip


DEMO_BOOKED_FACILITY = "千波公園テニスコート Senba Tennis Courts"  # the demo facility staff's own


async def _seed_week_of_bookings(conn: asyncpg.Connection, account_ids: dict[str, int], now: datetime) -> None:
    """A week of the parent's bookings on the facility staff's tennis courts (paid, awaiting payment,
    one cancelled by staff) and a maintenance closure, so the operator's schedule has a week to show."""
    parent, staff = account_ids["parent"], account_ids["facility"]
    courts = await conn.fetch(
        "SELECT r.id, r.facility_id, r.fee_per_unit FROM resources r JOIN facilities f ON f.id = r.facility_id"
        " WHERE f.name = $1 ORDER BY r.id",
        DEMO_BOOKED_FACILITY,
    )
    if len(courts) < 2 or await conn.fetchval(
        "SELECT true FROM bookings WHERE account_id = $1 AND resource_id = $2 LIMIT 1", parent, courts[0]["id"]
    ):
        return
    today = now.astimezone(TOKYO).date()
    court_a, court_b = courts[0], courts[1]
    for offset in range(1, 8):
        day = today + timedelta(days=offset)
        for court, hour, hours, status in ((court_a, 10, 2, "confirmed"), (court_b, 14, 1, "provisional")):
            start = datetime.combine(day, time(hour), TOKYO)
            if offset == 3 and court is court_b:
                status = "cancelled"
            await conn.execute(
                "INSERT INTO bookings (resource_id, account_id, during, status, fee, pay_by, created_at, ended_at,"
                "                      end_reason, ended_by)"
                " VALUES ($1, $2, tstzrange($3, $4), $5, $6, $7, $8, $9, $10, $11)",
                court["id"], parent, start, start + timedelta(hours=hours), status, court["fee_per_unit"] * hours,
                min(now + timedelta(hours=72), start) if status != "confirmed" else None, now,
                now if status == "cancelled" else None, "大会開催のため" if status == "cancelled" else None,
                staff if status == "cancelled" else None,
            )  # fmt: skip
    maintenance = datetime.combine(today + timedelta(days=6), time(7), TOKYO)
    await conn.execute(
        "INSERT INTO closures (facility_id, resource_id, during, reason, created_by, created_at)"
        " VALUES ($1, $2, tstzrange($3, $4), 'ネット張替え net replacement', $5, $6)",
        court_b["facility_id"], court_b["id"], maintenance, maintenance + timedelta(hours=5), staff, now,
    )  # fmt: skip


def format_table(rows: Sequence[tuple[str, ...]], headers: tuple[str, ...]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
