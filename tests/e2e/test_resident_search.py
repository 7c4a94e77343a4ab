"""Resident search in a phone-sized Chromium (issue 23): a resident finds a free court in another
municipality next week through the week grid and books it through the confirmation sheet; a parent
registers a child and applies to a nursery found by the childcare search. Facilities and nurseries
are set up over HTTP; the resident and the parent work through the screen only. Screenshots in
tests/artifacts/e2e/."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from mobile.state.resident import SearchFilters, today, week_start
from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, choose, log_in, snap, type_into
from tests.e2e.test_homes import PHONE
from tests.integration.facilities.conftest import make_venue
from tests.integration.facilities.test_availability import make_court
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
BANDO = 24  # 坂東市
WEEKDAYS = "月火水木金土日"


async def test_resident_finds_a_free_court_in_another_town_next_week_and_books_it(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    await make_venue(http, actors)  # a gym at home (水戸市), what the search shows first
    # ¥500 an hour, ¥800 for non-residents, who may book a month ahead (residents two)
    court = await make_court(http, actors, BANDO)
    horizon = await http.patch(
        f"/v1/resources/{court.resource_id}",
        json={"residentHorizonMonths": 2, "nonResidentHorizonMonths": 1},
        headers=court.staff.headers,
    )
    assert horizon.status_code == 200, horizon.text
    resident = await actors.resident()
    await actors.lives_in(resident, 1)
    wednesday = week_start(today(), 1) + timedelta(days=2)
    cell = f"市民テニスコート {BANDO} {wednesday.month}/{wednesday.day}({WEEKDAYS[wednesday.weekday()]}) 空きあり"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        device = await browser.new_context(viewport=PHONE)
        phone = await device.new_page()
        try:
            await log_in(phone, web_client, resident)
            await expect(phone.get_by_text("施設をさがす")).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("水戸市総合体育館", exact=True)).to_be_visible(timeout=30_000)
            await snap(phone, "search-1-home-town.png")

            await phone.get_by_role("button", name="市町村: 水戸市").click()
            await expect(phone.get_by_role("button", name="坂東市", exact=True)).to_be_visible(timeout=30_000)
            await snap(phone, "search-2-municipality-menu.png")
            await choose(phone, "市町村: 水戸市", "坂東市", phone.get_by_text("市民テニスコート 24", exact=True))
            await expect(phone.get_by_text("水戸市総合体育館", exact=True)).to_have_count(0)
            await phone.get_by_role("button", name="次の週").click()
            await expect(phone.get_by_text("来週", exact=False)).to_be_visible(timeout=30_000)
            await snap(phone, "search-3-other-town-next-week.png")

            await phone.get_by_role("button", name=cell).click()
            book = phone.get_by_role("button", name="予約", exact=True)
            await expect(book).to_have_count(12, timeout=30_000)
            await snap(phone, "search-4-day-slots.png")
            await book.first.click()
            await expect(phone.get_by_text("予約の確認")).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("料金 (市民): ¥500")).to_be_visible()
            await expect(phone.get_by_text("料金 (市外): ¥800")).to_be_visible()
            await expect(phone.get_by_text("無料キャンセル期限", exact=False)).to_be_visible()
            await snap(phone, "search-5-confirmation-sheet.png")
            await phone.get_by_role("button", name="予約を確定").click()
            await expect(book).to_have_count(11, timeout=30_000)
            await expect(phone.get_by_text("あなたの予約")).to_be_visible()
            await expect(phone.get_by_text("¥800", exact=False)).to_be_visible()  # the non-residents' rate
            await snap(phone, "search-6-booked.png")

            # Weeks on, past the non-residents' one-month horizon, a day says when it opens.
            for ahead in range(2, 7):
                await phone.get_by_role("button", name="次の週").click()
                await expect(phone.get_by_text(f"{ahead}週間後", exact=False)).to_be_visible(timeout=30_000)
            await expect(phone.get_by_role("button", name="受付開始", exact=False).first).to_be_visible()
            await snap(phone, "search-7-opens-for-booking.png")

            # This device remembers the search (the browser's storage, read again at the next login).
            stored = await phone.evaluate(
                f"Object.entries(localStorage).filter(([k]) => k.endsWith('musubi.search.{resident.account_id}'))"
            )
            [(_key, value)] = stored
            text = json.loads(value) if value.startswith('"') else value  # Flutter keeps strings JSON-quoted
            assert SearchFilters.decode(text) == SearchFilters(municipality_id=BANDO, kind=None, week=6)
        finally:
            await browser.close()

    bookings = await http.get("/v1/me/bookings", headers=resident.headers)
    [booking] = bookings.json()
    assert (booking["facilityId"], booking["fee"]) == (court.facility_id, 800)


async def test_parent_registers_a_child_and_applies_to_a_nursery(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    nursery = await actors.organization("nursery", "うしく保育園", municipality_id=15)
    teacher = await actors.member("nursery", "staff", nursery)
    day = today() + timedelta(days=1)
    opened = await http.post(
        f"/v1/nurseries/{nursery}/sessions",
        json={"date": str(day), "block": "morning", "capacity": {"1-2": 3}},
        headers=teacher.headers,
    )
    assert opened.status_code == 201, opened.text
    parent = await actors.resident()
    birth = day.replace(year=day.year - 2) - timedelta(days=30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        phone = await (await browser.new_context(viewport=PHONE)).new_page()
        try:
            await log_in(phone, web_client, parent)
            await expect(phone.get_by_text("一時預かり")).to_be_visible(timeout=30_000)
            await type_into(phone, "氏名", "山田 花")
            await type_into(phone, "生年月日", str(birth))
            await type_into(phone, "アレルギー", "卵")
            await snap(phone, "childcare-1-register-form.png")
            await phone.get_by_role("button", name="お子さまを登録").click()
            await expect(phone.get_by_text(f"山田 花 ({birth})")).to_be_visible(timeout=30_000)
            apply = phone.get_by_role("button", name="面談を申し込む: うしく保育園")
            await expect(apply).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("午前 8:30–12:30", exact=False)).to_be_visible()
            await expect(phone.get_by_text("持ち物", exact=False)).to_be_visible()
            await snap(phone, "childcare-2-nursery-found.png")
            await apply.click()
            await expect(phone.get_by_text("面談を申込済み")).to_be_visible(timeout=30_000)
            await snap(phone, "childcare-3-applied.png")
        finally:
            await browser.close()

    pending = await http.get(f"/v1/nurseries/{nursery}/applications", headers=teacher.headers)
    assert [(a["childName"], a["ageYears"]) for a in pending.json()] == [("山田 花", 2)]
