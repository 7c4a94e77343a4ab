"""The administrator's home and the account screen in a real browser (issue 23): an admin invites a
member and finds who read a child's record in the audit log; the prefecture's admin reads the
dashboard's charts; a resident changes their password on the phone, logs in with the new one, and
gets their calendar link. Records are set up over HTTP (or, for past weeks, in the database); people
work through the screen only. Screenshots go to tests/artifacts/e2e/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.e2e.browser import BROWSER_ARGS, CHROMIUM, log_in, reveal, sign_in, snap, tap_until, type_into
from tests.integration.childcare.test_childcare import Nursery, apply, in_days, years_before
from tests.support import PASSWORD, Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

NEW_PASSWORD = "a brand new passphrase 2026"


async def test_an_admin_invites_a_member_and_finds_who_read_a_childs_record(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    nursery_id = await actors.organization("nursery", "みと保育園", municipality_id=1)
    admin = await actors.member("nursery", "admin", nursery_id)
    staff = await actors.member("nursery", "staff", nursery_id)
    parent = await actors.resident()
    registered = await http.post(
        "/v1/children", json={"name": "高橋 湊", "birthDate": str(years_before(in_days(0), 3))}, headers=parent.headers
    )
    assert registered.status_code == 201, registered.text
    child_id = registered.json()["id"]
    await apply(http, parent, child_id, Nursery(nursery_id, staff))
    approved = await http.post(
        f"/v1/children/{child_id}/approvals", json={"nurseryId": nursery_id}, headers=staff.headers
    )
    assert approved.status_code == 201, approved.text
    # The read the auditor will look for: a nursery's staff member opens the child's record.
    assert (await http.get(f"/v1/children/{child_id}", headers=staff.headers)).status_code == 200

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await browser.new_page(viewport={"width": 800, "height": 900})
        try:
            await log_in(desk, web_client, admin)
            # A nursery's admin is also its staff: the nursery home opens first, administration is one tap away.
            await expect(desk.get_by_text("面談の申込")).to_be_visible(timeout=30_000)
            # Switching twice is harmless: a tap lost while the home was still drawing is tapped again.
            await tap_until(desk.get_by_role("button", name="切替: 管理"), desk.get_by_text("メンバーを招待"))
            await expect(desk.get_by_text(staff.email, exact=False)).to_be_visible()

            await type_into(desk, "メールアドレス", "new.staff@example.jp")
            await desk.get_by_role("button", name="招待する").click()
            revoke = desk.get_by_role("button", name="招待を取消: new.staff@example.jp")
            await expect(revoke).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("new.staff@example.jp · 職員", exact=False)).to_be_visible()
            await snap(desk, "admin-1-invitation-pending.png")

            await desk.get_by_role("button", name="監査ログ").click()
            await expect(desk.get_by_text("記録の種類")).to_be_visible(timeout=30_000)
            await desk.get_by_role("button", name="子どもの記録").click()
            await type_into(desk, "記録のID", str(child_id))
            await desk.get_by_role("button", name="絞り込む").click()
            read = desk.get_by_text(f"child.read · 子どもの記録 #{child_id}")
            await expect(read).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text(f"{staff.email} (#{staff.account_id})", exact=False).first).to_be_visible()
            await snap(desk, "admin-2-audit-child-read.png")
        finally:
            await browser.close()


async def weeks_of_history(db: asyncpg.Pool, actors: Actors, weeks: int = 6) -> None:
    """Past weeks of bookings, childcare, intake and EMS cases, written as they would have been
    (the API cannot book the past). Counts grow week by week so the bars differ."""
    person = await actors.resident()
    operators = [await actors.organization("municipality", municipality_id=m) for m in (1, 2)]
    nursery = await actors.organization("nursery")
    center = await actors.organization("guidance_center")
    fire = await actors.organization("fire_department")
    hospitals = [await actors.organization("hospital") for _ in range(5)]
    now = datetime.now(UTC)
    async with db.acquire() as conn, conn.transaction():
        resources = []
        for m, operator in zip((1, 2), operators, strict=True):
            facility = await conn.fetchval(
                "INSERT INTO facilities (organization_id, municipality_id, name, kind, address, lat, lon, created_at)"
                " VALUES ($1, $2, 'Gym', 'gym', 'Mito', 36.37, 140.47, $3) RETURNING id", operator, m, now,
            )  # fmt: skip
            resources.append(await conn.fetchval(
                "INSERT INTO resources (facility_id, name, unit_minutes, opens_at, closes_at, fee_per_unit,"
                " cancel_deadline_hours, payment_deadline_hours, waitlist_hold_minutes, created_at)"
                " VALUES ($1, 'Arena', 60, '09:00', '17:00', 0, 0, 24, 30, $2) RETURNING id", facility, now,
            ))  # fmt: skip
        for week in range(1, weeks + 1):
            at = (now - timedelta(weeks=week)).replace(hour=1, minute=0, second=0, microsecond=0)
            for i in range(weeks + 1 - week):
                start = at + timedelta(hours=i)
                await conn.execute(
                    "INSERT INTO bookings (resource_id, account_id, during, status, fee, pay_by, created_at)"
                    " VALUES ($1, $2, tstzrange($3, $4), 'confirmed', 0, $4, $3)",
                    resources[i % 2], person.account_id, start, start + timedelta(hours=1),
                )  # fmt: skip
            session = await conn.fetchval(
                "INSERT INTO childcare_sessions (nursery_id, day, block, created_at) VALUES ($1, $2, 'morning', $3)"
                " RETURNING id", nursery, at.date(), at,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO childcare_places (session_id, band, capacity, used) VALUES ($1, '3-5', 10, $2)",
                session, week + 2,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO intake_requests (guidance_center_id, created_by, created_at, age_years, sex, category,"
                " needs, urgency, status, placed_at) VALUES ($1, $2, $3, 8, 'female', '6-12:female', '{}', 'urgent',"
                " 'placed', $4)", center, person.account_id, at, at + timedelta(minutes=30 + 15 * week),
            )  # fmt: skip
            for asked in (hospitals[: 1 + week % 5], hospitals[:2]):
                case = await conn.fetchval(
                    "INSERT INTO ems_cases (fire_department_id, opened_by, opened_at) VALUES ($1, $2, $3)"
                    " RETURNING id", fire, person.account_id, at,
                )  # fmt: skip
                await conn.execute(
                    "INSERT INTO ems_requests (case_id, hospital_id, status, sent_at)"
                    " SELECT $1, unnest($2::bigint[]), 'declined', $3", case, asked, at,
                )  # fmt: skip


async def test_the_prefecture_admin_reads_the_dashboard(actors: Actors, db: asyncpg.Pool, web_client: str) -> None:
    from playwright.async_api import async_playwright, expect

    await weeks_of_history(db, actors)
    admin = await actors.prefecture_admin()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await browser.new_page(viewport={"width": 800, "height": 900})
        try:
            await log_in(desk, web_client, admin)
            dashboard = desk.get_by_role("button", name="ダッシュボード")
            await expect(dashboard).to_be_visible(timeout=30_000)
            await tap_until(dashboard, desk.get_by_text("週ごとの予約数", exact=True))
            await expect(desk.get_by_text("市町村ごとの稼働率", exact=True)).to_be_visible()
            # The numbers under each chart, for those who cannot see the bars.
            await expect(desk.get_by_text("水戸市 ", exact=False).first).to_be_visible()
            await snap(desk, "admin-3-dashboard.png")
            last = desk.get_by_text("救急: 照会4回以上の割合", exact=True)
            await reveal(desk, last)
            await snap(desk, "admin-4-dashboard-ems.png")
        finally:
            await browser.close()


async def test_a_resident_changes_the_password_and_gets_the_calendar_link(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    resident = await actors.resident()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        phone = await browser.new_page(viewport={"width": 412, "height": 915})
        try:
            await log_in(phone, web_client, resident)
            account = phone.get_by_role("button", name="アカウント")
            await expect(account).to_be_visible(timeout=30_000)
            await tap_until(account, phone.get_by_text("プロフィール"))
            await expect(phone.get_by_text(f"メールアドレス: {resident.email}")).to_be_visible()
            await snap(phone, "account-1-screen.png")

            change = phone.get_by_role("button", name="パスワードを変更")
            await reveal(phone, change)
            await type_into(phone, "現在のパスワード", PASSWORD)
            await type_into(phone, "新しいパスワード (10文字以上)", NEW_PASSWORD)
            await change.click()
            await expect(phone.get_by_text("パスワードを変更しました", exact=False).first).to_be_visible(timeout=30_000)
            await snap(phone, "account-2-password-changed.png")

            issue = phone.get_by_role("button", name="購読リンクを発行")
            await reveal(phone, issue)
            await issue.click()
            link = phone.get_by_text(re.compile(r"^購読リンク: http://\S+/v1/calendar/[A-Za-z0-9_-]+\.ics$"))
            await expect(link).to_be_visible(timeout=30_000)
            await expect(phone.get_by_role("button", name="コピー: 購読リンク", exact=True)).to_be_visible()
            await expect(phone.get_by_role("button", name="購読リンクを再発行")).to_be_visible()
            await snap(phone, "account-3-calendar-link.png")

            # Deleting asks once more; keeping the account closes the question and changes nothing.
            delete = phone.get_by_role("button", name="アカウントを削除")
            await reveal(phone, delete)
            await delete.click()
            await expect(phone.get_by_text("アカウントを削除しますか?")).to_be_visible(timeout=30_000)
            await snap(phone, "account-4-delete-dialog.png")
            await phone.get_by_role("button", name="やめる").click()
            await expect(phone.get_by_text("アカウントを削除しますか?")).to_have_count(0, timeout=30_000)

            # The new password is the one that opens the account now.
            logout = phone.get_by_role("button", name="ログアウト")
            await reveal(phone, logout)
            await logout.click()
            login = phone.get_by_role("button", name="ログイン")
            await expect(login).to_be_visible(timeout=30_000)
            await sign_in(phone, None, NEW_PASSWORD)  # the e-mail is kept after logout: the password is enough
            await expect(phone.get_by_role("button", name="アカウント")).to_be_visible(timeout=30_000)
        finally:
            await browser.close()

    old = await http.post("/v1/sessions", json={"email": resident.email, "password": PASSWORD})
    assert old.status_code == 401
