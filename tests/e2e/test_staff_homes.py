"""Staff homes in a real browser (issue 23): nursery staff open a session, approve a parent's
application and see the child on the day's roster; facility staff record a payment and see it in
the schedule. Parents and bookings are set up over HTTP; staff work through the screen only.
Screenshots go to tests/artifacts/e2e/."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, log_in, sign_in, snap, tap_until
from tests.integration.childcare.test_childcare import Nursery, apply, in_days, reserve, years_before
from tests.support import PASSWORD, Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


async def test_nursery_staff_open_a_session_approve_a_child_and_see_them_on_the_roster(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    nursery_id = await actors.organization("nursery", "みと保育園", municipality_id=1)
    staff = await actors.member("nursery", "staff", nursery_id)
    parent = await actors.resident()
    day = in_days(2)
    registered = await http.post(
        "/v1/children",
        json={"name": "佐藤 陽菜", "birthDate": str(years_before(day, 4, days=10)), "allergies": ["小麦 wheat"]},
        headers=parent.headers,
    )
    assert registered.status_code == 201, registered.text
    child_id = registered.json()["id"]
    await apply(http, parent, child_id, Nursery(nursery_id, staff))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        tablet = await browser.new_page(viewport={"width": 800, "height": 1600})
        try:
            await log_in(tablet, web_client, staff)
            await expect(tablet.get_by_text("面談の申込")).to_be_visible(timeout=30_000)
            approve = tablet.get_by_role("button", name="承認: 佐藤 陽菜")
            await expect(approve).to_be_visible()
            await snap(tablet, "nursery-1-home.png")

            # The session: two days on, the form's defaults (morning, three places per band).
            for days in (1, 2):
                await tablet.get_by_role("button", name="次の日").click()
                await expect(tablet.get_by_text(f"枠の作成 · {in_days(days)}", exact=False)).to_be_visible(
                    timeout=30_000
                )
            await tablet.get_by_role("button", name="この日に枠を作成").click()
            # The roster and the week both show the new session's 3–5 places, none taken.
            await expect(tablet.get_by_text("3〜5歳: 0/3").first).to_be_visible(timeout=30_000)
            await expect(tablet.get_by_role("button", name="枠を取消", exact=False)).to_have_count(1)
            await snap(tablet, "nursery-2-session-opened.png")

            await approve.click()
            await expect(approve).to_have_count(0, timeout=30_000)
            await expect(tablet.get_by_text("ありません")).to_be_visible()

            # The parent, now approved, reserves the place from their phone.
            sessions = await http.get(
                f"/v1/nurseries/{nursery_id}/sessions",
                params={"from": str(day), "to": str(day)},
                headers=staff.headers,
            )
            [session] = sessions.json()
            assert (await reserve(http, parent, session["id"], child_id)).status_code == 201

            # Live, or at the latest on "refresh" as a person would press it, the child is on the roster.
            # A roster card reads as one group: the child's name, age and allergies together.
            name = tablet.get_by_role("group", name=re.compile(r"佐藤 陽菜 \(4歳\) アレルギー: 小麦 wheat"))
            try:
                await expect(name).to_be_visible(timeout=10_000)
            except AssertionError:
                await tablet.get_by_role("button", name="更新").click()
                await expect(name).to_be_visible(timeout=30_000)
            await expect(tablet.get_by_text("3〜5歳: 1/3").first).to_be_visible(timeout=30_000)
            await snap(tablet, "nursery-3-child-on-roster.png")
        finally:
            await browser.close()


async def test_facility_staff_record_a_payment_and_see_it_in_the_schedule(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.integration.facilities.conftest import make_venue

    venue = await make_venue(http, actors)
    booker = await actors.resident()
    booked = await http.post("/v1/bookings", json=venue.slot(1, 10), headers=booker.headers)
    assert booked.status_code == 201, booked.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await browser.new_page(viewport={"width": 800, "height": 900})
        try:
            await log_in(desk, web_client, venue.staff)
            await expect(desk.get_by_text("予約台帳")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("予約はありません")).to_be_visible()
            await snap(desk, "facility-1-home.png")
            await desk.get_by_role("button", name="次の日").click()
            await expect(desk.get_by_text("10:00–11:00 · メインアリーナ")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("支払い: 未払い")).to_be_visible()
            await snap(desk, "facility-2-schedule-due.png")

            record = desk.get_by_role("button", name="入金を記録: 10:00–11:00", exact=False)
            await record.click()
            await expect(desk.get_by_text("支払い: 支払済")).to_be_visible(timeout=30_000)
            await expect(record).to_have_count(0)
            await expect(desk.get_by_text("本予約", exact=False)).to_be_visible()
            await snap(desk, "facility-3-paid.png")
        finally:
            await browser.close()


async def test_a_person_with_two_memberships_switches_role_and_the_device_remembers(
    actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    nursery_id = await actors.organization("nursery", "みと保育園", municipality_id=1)
    person = await actors.member("nursery", "staff", nursery_id)
    await actors.grant(person, await actors.organization("municipality", municipality_id=1), "staff")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 800, "height": 1000})
        try:
            await log_in(page, web_client, person)
            await expect(page.get_by_text("面談の申込")).to_be_visible(timeout=30_000)
            switch = page.get_by_role("button", name="切替: 施設管理")
            await expect(switch).to_be_visible()
            await snap(page, "switch-1-nursery.png")
            await tap_until(switch, page.get_by_text("予約台帳"))  # switching twice is harmless
            await expect(page.get_by_text("面談の申込")).to_have_count(0)
            await snap(page, "switch-2-facility.png")

            # Next time on this device, the facility home opens first: logging out forgets the choice
            # in the app, so only the device's storage can bring it back.
            await page.get_by_role("button", name="ログアウト").click()
            login = page.get_by_role("button", name="ログイン")
            await expect(login).to_be_visible(timeout=30_000)
            await sign_in(page, None, PASSWORD)  # the e-mail is kept after logout: the password is enough
            await expect(page.get_by_text("予約台帳")).to_be_visible(timeout=30_000)
            await expect(page.get_by_text("面談の申込")).to_have_count(0)
            await snap(page, "switch-3-remembered.png")
        finally:
            await browser.close()
