"""End to end in real browsers. A paramedic sends a case to two hospitals; an ER nurse sees (and
hears) it appear without reloading and accepts; the paramedic's screen shows the acceptance. A parent books
a slot on a phone and saves the booking to their calendar.

Everything is real: headless Chromium (Debian's, driven by Playwright), the Flet web client,
two APIs, two gateways and relays on Redis and PostgreSQL. Screenshots of every step are kept
in tests/artifacts/e2e/ for people to look at.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar

from mobile.state.resident import week_start
from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, log_in, pick, snap
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


async def test_paramedic_sends_er_accepts_paramedic_sees_it(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    mito = await actors.organization("hospital", "水戸中央病院", municipality_id=1)
    hitachi = await actors.organization("hospital", "日立総合病院", municipality_id=2)
    nurse = await actors.member("hospital", "er_staff", mito)
    del hitachi
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        crew = await browser.new_page(viewport={"width": 412, "height": 915})
        desk = await (await browser.new_context(viewport={"width": 800, "height": 900})).new_page()
        # Count the sounds the desk starts (the audio plugin plays through media elements).
        await desk.add_init_script(
            "window.chimes = 0; const play = HTMLMediaElement.prototype.play;"
            "HTMLMediaElement.prototype.play = function () { window.chimes++; return play.apply(this, arguments); };"
        )
        try:
            await log_in(desk, web_client, nurse)
            await expect(desk.get_by_text("受入照会")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("ありません")).to_be_visible()
            await expect(desk.get_by_text("接続中")).to_be_visible(timeout=30_000)  # live
            await snap(desk, "1-er-empty-inbox.png")

            await log_in(crew, web_client, paramedic)
            await expect(crew.get_by_text("搬送先候補")).to_be_visible(timeout=30_000)
            for hospital in ("水戸中央病院", "日立総合病院"):
                await pick(crew, "checkbox", hospital, exact=False)
            await snap(crew, "2-paramedic-case-and-hospitals.png")
            await crew.get_by_role("button", name="選択した病院へ一斉照会").click()
            await expect(crew.get_by_text("病院からの回答")).to_be_visible(timeout=30_000)
            await expect(crew.get_by_text("回答待ち")).to_have_count(2)
            await snap(crew, "3-paramedic-sent.png")

            # The ER desk sees it arrive without reloading.
            await expect(desk.get_by_text("新しい受入照会があります")).to_be_visible(timeout=30_000)
            await desk.wait_for_function("window.chimes >= 1", timeout=30_000)  # and hears it
            await snap(desk, "4-er-new-request.png")
            await desk.get_by_role("button", name="受入可").first.click()
            await expect(desk.get_by_role("button", name="受入可")).to_have_count(0, timeout=30_000)
            await snap(desk, "5-er-accepted.png")

            # The crew sees the acceptance, and can confirm the destination.
            await expect(crew.get_by_role("button", name="この病院に決定")).to_be_visible(timeout=30_000)
            await snap(crew, "6-paramedic-sees-acceptance.png")
        finally:
            await browser.close()


async def test_resident_books_a_paid_slot_through_the_sheet_waits_for_a_booked_one_and_saves_to_calendar(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.integration.facilities.conftest import make_venue

    venue = await make_venue(http, actors, nonResidentFeePerUnit=None)  # ¥1000 an hour, 減免 child/disability
    other, parent = await actors.resident(), await actors.resident()
    taken = await http.post("/v1/bookings", json=venue.slot(1, 20), headers=other.headers)
    assert taken.status_code == 201, taken.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        phone = await browser.new_page(viewport={"width": 412, "height": 915})
        try:
            await log_in(phone, web_client, parent)
            # The week grid first; tomorrow's cell opens the day's slots.
            await expect(phone.get_by_text("水戸市総合体育館", exact=True)).to_be_visible(timeout=30_000)
            tomorrow = venue.day(1)
            if tomorrow >= week_start(venue.day(0), 1):  # today is Sunday: tomorrow is next week
                await phone.get_by_role("button", name="次の週").click()
            weekday = "月火水木金土日"[tomorrow.weekday()]
            await phone.get_by_role(
                "button", name=f"水戸市総合体育館 {tomorrow.month}/{tomorrow.day}({weekday}) 空きあり"
            ).click(timeout=30_000)
            await expect(phone.get_by_text("水戸市総合体育館 · メインアリーナ")).to_be_visible(timeout=30_000)
            book = phone.get_by_role("button", name="予約", exact=True)
            await expect(book).to_have_count(11)
            await snap(phone, "7-resident-vacancies.png")
            await book.first.click()
            # The sheet: the fee, the reduction, the deadlines; nothing booked yet.
            await expect(phone.get_by_text("予約の確認")).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("料金 (市民): ¥1,000")).to_be_visible()
            await expect(phone.get_by_text("無料キャンセル期限", exact=False)).to_be_visible()
            await expect(phone.get_by_text("支払期限", exact=False)).to_be_visible()
            await pick(phone, "radio", "子ども")
            await expect(phone.get_by_text("料金 (市民): ¥500")).to_be_visible(timeout=30_000)
            await snap(phone, "8-resident-confirmation-sheet.png")
            await phone.get_by_role("button", name="予約を確定").click()
            await expect(book).to_have_count(10, timeout=30_000)
            await expect(phone.get_by_text("¥500", exact=False)).to_be_visible()
            await snap(phone, "9-resident-booked.png")

            # The slot someone else booked is there, with the waitlist.
            await phone.get_by_role("button", name="キャンセル待ちに登録").click()
            await expect(phone.get_by_text("キャンセル待ち中")).to_be_visible(timeout=30_000)
            await snap(phone, "10-resident-on-waitlist.png")

            async with phone.expect_download(timeout=30_000) as saved:
                await phone.get_by_role("button", name="カレンダーに追加").click()
            download = await saved.value
            assert download.suggested_filename == "musubi-bookings.ics"
            ics = await asyncio.to_thread(Path(await download.path()).read_bytes)
            [event] = Calendar.from_ical(ics).walk("VEVENT")
            assert "メインアリーナ" in str(event["SUMMARY"])
        finally:
            await browser.close()
