"""Demo data: the accounts of API.md and an organisation of each kind in Ibaraki."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import get_args

import asyncpg
from argon2 import PasswordHasher

from backend.core.clock import SystemClock
from backend.core.crypto import IdentityCipher, parse_keyring
from backend.core.settings import Settings
from backend.facilities.slots import TOKYO
from schema.ems import Department
from schema.shelters import ChildIdentity

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
                        INSERT INTO accounts (email, password_hash, display_name, locale, created_at, email_verified_at)
                        VALUES ($1, $2, $3, 'ja', $4, $4) RETURNING id
                        """,
                        email,
                        password_hash,
                        account.display_name,
                        now,
                    )
                # Demo people own their (reserved) addresses: verified, so they can book at once.
                await conn.execute(
                    "UPDATE accounts SET email_verified_at = $2 WHERE id = $1 AND email_verified_at IS NULL",
                    account_id,
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
            await _seed_back_office(conn, org_ids, account_ids, settings, now)
            await _seed_nursery_week(conn, org_ids, account_ids, now)
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


DEMO_PLACED_CHILDREN = (
    # (name, birth date, age, sex, category, minutes from request to placement)
    ("鈴木 結衣 Yui Suzuki", date(2017, 6, 3), 8, "female", "6-12:female", 95),
    ("高橋 蓮 Ren Takahashi", date(2012, 1, 20), 13, "male", "13-17:male", 240),
)


async def _seed_back_office(
    conn: asyncpg.Connection,
    org_ids: dict[str, int],
    account_ids: dict[str, int],
    settings: Settings,
    now: datetime,
) -> None:
    """Departments for the demo hospitals, children placed at Mirai shelter and an open request, and a
    few ambulance cases in every state, so each back-office screen has something to show."""
    for key in ("hospital", "hospital2", "hospital3"):
        await conn.execute(
            "INSERT INTO hospital_departments (hospital_id, department, created_at)"
            " SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING",
            org_ids[key], list(get_args(Department)), now,
        )  # fmt: skip
    center, caseworker = org_ids["guidance"], account_ids["caseworker"]
    shelters = [org_ids["shelter"], org_ids["shelter2"]]
    if settings.identity_keys and not await conn.fetchval(
        "SELECT true FROM intake_requests WHERE guidance_center_id = $1 LIMIT 1", center
    ):
        cipher = IdentityCipher(parse_keyring(settings.identity_keys))
        for name, birth_date, age, sex, category, minutes in DEMO_PLACED_CHILDREN:
            asked = now - timedelta(days=2, minutes=minutes)
            placed = asked + timedelta(minutes=minutes)
            request_id = await conn.fetchval(
                "INSERT INTO intake_requests (guidance_center_id, created_by, created_at, age_years, sex, category,"
                " needs, urgency, status, placed_at) VALUES ($1, $2, $3, $4, $5, $6, '{}', 'urgent', 'placed', $7)"
                " RETURNING id",
                center, caseworker, asked, age, sex, category, placed,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO intake_targets (request_id, shelter_id, status, responded_at)"
                " VALUES ($1, $2, 'placed', $4), ($1, $3, 'closed', NULL)",
                request_id, shelters[0], shelters[1], asked + timedelta(minutes=minutes // 2),
            )  # fmt: skip
            await conn.execute(
                "UPDATE shelter_units SET occupied = occupied + 1 WHERE shelter_id = $1 AND category = $2",
                shelters[0], category,
            )  # fmt: skip
            key_id, nonce, sealed = cipher.seal(ChildIdentity(name=name, birth_date=birth_date), request_id)
            await conn.execute(
                "INSERT INTO placements (request_id, shelter_id, category, placed_by, placed_at, identity_key_id,"
                " identity_nonce, identity_ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                request_id, shelters[0], category, caseworker, placed, key_id, nonce, sealed,
            )  # fmt: skip
        open_id = await conn.fetchval(
            "INSERT INTO intake_requests (guidance_center_id, created_by, created_at, age_years, sex, category,"
            " needs, urgency, status) VALUES ($1, $2, $3, 4, 'male', '0-5:any', '{medical_care}', 'emergency', 'open')"
            " RETURNING id",
            center, caseworker, now - timedelta(minutes=20),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO intake_targets (request_id, shelter_id, status) SELECT $1, unnest($2::bigint[]), 'pending'",
            open_id, shelters,
        )  # fmt: skip
    await _seed_ems_cases(conn, org_ids, account_ids, now)


async def _seed_ems_cases(
    conn: asyncpg.Connection, org_ids: dict[str, int], account_ids: dict[str, int], now: datetime
) -> None:
    fire, paramedic = org_ids["fire"], account_ids["paramedic"]
    if await conn.fetchval("SELECT true FROM ems_cases WHERE fire_department_id = $1 LIMIT 1", fire):
        return
    hospitals = [org_ids["hospital"], org_ids["hospital2"], org_ids["hospital3"]]
    cases = (
        # (opened minutes ago, complaint, age, sex, answers per hospital, outcome)
        (200, "胸痛 chest pain", 72, "male", ("declined", "declined", "selected"), "handed_over"),
        (30, "呼吸困難 shortness of breath", 58, "female", ("pending", "accepted", None), None),
        (1500, "転倒 fall at home", 88, "female", (None, None, None), "not_transported"),
    )
    for minutes, complaint, age, sex, answers, outcome in cases:
        opened = now - timedelta(minutes=minutes)
        case_id = await conn.fetchval(
            "INSERT INTO ems_cases (fire_department_id, opened_by, opened_at, estimated_age, sex, chief_complaint,"
            " jcs, first_request_at) VALUES ($1, $2, $3, $4, $5, $6, 'I-1', $7) RETURNING id",
            fire, paramedic, opened, age, sex, complaint, opened + timedelta(minutes=5) if any(answers) else None,
        )  # fmt: skip
        for hospital, status in zip(hospitals, answers, strict=True):
            if status is None:
                continue
            answered = status != "pending"
            await conn.execute(
                "INSERT INTO ems_requests (case_id, hospital_id, status, sent_at, responded_at, reason, department)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                case_id, hospital, status, opened + timedelta(minutes=5),
                opened + timedelta(minutes=8) if answered else None,
                "no_beds" if status == "declined" else None,
                "cardiology" if status in ("accepted", "selected") else None,
            )  # fmt: skip
        if "selected" in answers:
            await conn.execute(
                "UPDATE ems_cases SET destination_at = $2 WHERE id = $1", case_id, opened + timedelta(minutes=10)
            )
        if outcome is not None:
            await conn.execute(
                "UPDATE ems_cases SET closed_at = $2, closed_by = $3, outcome = $4, close_reason = $5 WHERE id = $1",
                case_id, opened + timedelta(minutes=60), paramedic, outcome,
                "搬送拒否 refused transport" if outcome == "not_transported" else None,
            )  # fmt: skip


def format_table(rows: Sequence[tuple[str, ...]], headers: tuple[str, ...]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# Places per band of each demo session: (block, {band: capacity}).
DEMO_NURSERY_SESSIONS = (("morning", {"0": 3, "1-2": 6, "3-5": 10}), ("afternoon", {"0": 2, "1-2": 5, "3-5": 8}))
DEMO_ROSTER_DAYS = 2  # the demo child is on the roster of the first two weekdays from today


async def _seed_nursery_week(
    conn: asyncpg.Connection, org_ids: dict[str, int], account_ids: dict[str, int], now: datetime
) -> None:
    """Sakura Nursery's sessions for today and the coming week (weekdays), and the demo child reserved
    on the first mornings, so the session list and the day's roster have something to show. Running
    the seed again adds the days that are new and changes nothing else."""
    nursery, parent = org_ids["nursery"], account_ids["parent"]
    child = await conn.fetchval("SELECT id FROM children WHERE parent_id = $1 AND name = $2", parent, DEMO_CHILD[0])
    today = now.astimezone(TOKYO).date()
    weekdays = [today + timedelta(days=n) for n in range(8) if (today + timedelta(days=n)).weekday() < 5]
    for day in weekdays:
        for block, capacity in DEMO_NURSERY_SESSIONS:
            session_id = await conn.fetchval(
                "INSERT INTO childcare_sessions (nursery_id, day, block, cancel_deadline_hours, created_at)"
                " VALUES ($1, $2, $3, 24, $4) ON CONFLICT (nursery_id, day, block) DO NOTHING RETURNING id",
                nursery, day, block, now,
            )  # fmt: skip
            if session_id is None:
                continue  # seeded on an earlier run
            await conn.execute(
                "INSERT INTO childcare_places (session_id, band, capacity)"
                " SELECT $1, band, capacity FROM unnest($2::text[], $3::int[]) AS p(band, capacity)",
                session_id, list(capacity), list(capacity.values()),
            )  # fmt: skip
            if child is None or block != "morning" or day not in weekdays[:DEMO_ROSTER_DAYS]:
                continue
            # As a reservation over HTTP would: the place, the hours, the reservation.
            await conn.execute(
                "UPDATE childcare_places SET used = used + 1 WHERE session_id = $1 AND band = '3-5'", session_id
            )
            await conn.execute(
                "INSERT INTO childcare_hours_used AS u (child_id, month, hours) VALUES ($1, $2, 4)"
                " ON CONFLICT (child_id, month) DO UPDATE SET hours = u.hours + 4",
                child, day.replace(day=1),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO childcare_reservations (session_id, child_id, band, hours, status, created_at)"
                " VALUES ($1, $2, '3-5', 4, 'reserved', $3)",
                session_id, child, now,
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
