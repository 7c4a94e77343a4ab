"""The meeting (面談) and the printable roster in a real browser (issue 23): nursery staff set the
meeting date for a parent's pending application, the parent sees it on their phone, and the day's
roster is saved as a printable page. Parents, children and reservations are set up over HTTP; staff
and the parent work through the screen only. Screenshots go to tests/artifacts/e2e/."""

from __future__ import annotations

from datetime import date, datetime, time

import httpx
import pytest

from mobile.views.staff_widgets import day_label
from schema.time import TOKYO
from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, log_in, snap, tap_until, type_into
from tests.e2e.test_admin_account import reveal
from tests.integration.childcare.test_childcare import Nursery, apply, in_days, reserve, session, years_before
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

PHONE = {"width": 390, "height": 844}


def month_day(day: date) -> str:
    return f"{day.month}/{day.day}"


async def test_nursery_staff_set_a_meeting_the_parent_sees_it_and_the_roster_prints(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    nursery_id = await actors.organization("nursery", "みと保育園", municipality_id=1)
    staff = await actors.member("nursery", "staff", nursery_id)
    nursery = Nursery(nursery_id, staff)
    parent = await actors.resident()
    meeting_day, tomorrow = in_days(3), in_days(1)
    registered = await http.post(
        "/v1/children",
        json={"name": "田中 結衣", "birthDate": str(years_before(meeting_day, 2, days=30))},
        headers=parent.headers,
    )
    assert registered.status_code == 201, registered.text
    await apply(http, parent, registered.json()["id"], nursery)
    # Tomorrow's roster holds a child the nursery already knows, with an allergy and a note.
    known = await http.post(
        "/v1/children",
        json={"name": "佐藤 陽菜", "birthDate": str(years_before(tomorrow, 4, days=10)),
              "allergies": ["小麦 wheat"], "notes": "お迎えは<祖母>"},
        headers=parent.headers,
    )  # fmt: skip
    assert known.status_code == 201, known.text
    known_id = known.json()["id"]
    await apply(http, parent, known_id, nursery)
    approved = await http.post(
        f"/v1/children/{known_id}/approvals", json={"nurseryId": nursery_id}, headers=staff.headers
    )
    assert approved.status_code == 201, approved.text
    morning = await session(http, nursery, tomorrow)
    assert (await reserve(http, parent, morning, known_id)).status_code == 201
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        tablet = await (
            await browser.new_context(viewport={"width": 800, "height": 1600}, accept_downloads=True)
        ).new_page()
        try:
            await log_in(tablet, web_client, staff)
            set_meeting = tablet.get_by_role("button", name="面談日を設定: 田中 結衣")
            await expect(set_meeting).to_be_visible(timeout=30_000)
            await expect(tablet.get_by_role("button", name="承認: 田中 結衣")).to_be_visible()
            await expect(tablet.get_by_role("button", name="お断り: 田中 結衣")).to_be_visible()

            # A time that is not one is refused on the device, before anything is sent.
            await type_into(tablet, "面談日時 (YYYY-MM-DD HH:MM)", "来週の火曜")
            await tap_until(set_meeting, tablet.get_by_text("YYYY-MM-DD HH:MM（日本時間）", exact=False))

            await type_into(tablet, "面談日時 (YYYY-MM-DD HH:MM)", f"{meeting_day} 10:30")
            shown = tablet.get_by_text(f"面談: {month_day(meeting_day)} 10:30")
            await tap_until(set_meeting, shown)
            # Still pending: approve and decline remain.
            await expect(tablet.get_by_role("button", name="承認: 田中 結衣")).to_be_visible()
            await snap(tablet, "meeting-1-nursery-set.png")

            # Tomorrow's roster, saved as a page to print.
            await tap_until(
                tablet.get_by_role("button", name="次の日"), tablet.get_by_role("button", name="到着: 佐藤 陽菜")
            )
            save = tablet.get_by_role("button", name=f"印刷用に保存: {day_label(tomorrow)}")
            await expect(save).to_be_visible()
            await snap(tablet, "meeting-2-roster-print-button.png")
            async with tablet.expect_download(timeout=30_000) as downloading:
                await save.click()
            download = await downloading.value
            assert download.suggested_filename == f"roster-{nursery_id}-{tomorrow}.html"
            saved = ARTIFACTS / "meeting-roster-print.html"
            await download.save_as(saved)
            document = saved.read_text(encoding="utf-8")
            assert "みと保育園" in document
            assert "佐藤 陽菜" in document
            assert '<span class="allergy"><strong>小麦 wheat</strong></span>' in document
            assert "お迎えは&lt;祖母&gt;" in document
            assert "田中 結衣" not in document  # applied, not booked: not on the roster

            # How it prints: the page in print media, in this browser.
            printed = await browser.new_page(viewport={"width": 800, "height": 1100})
            await printed.set_content(document)
            # This machine has no Japanese font of its own: lend the page the one the app ships.
            font = f"{web_client}fonts/ipaexg.ttf"
            await printed.add_style_tag(content=f"@font-face {{ font-family: IPAexGothic; src: url({font}); }}")
            await printed.evaluate("document.fonts.load('20pt IPAexGothic', '園児')")
            await printed.emulate_media(media="print")
            await expect(printed.get_by_text("小麦 wheat")).to_be_visible()
            await snap(printed, "meeting-3-roster-printed.png")
            await printed.close()

            phone = await (await browser.new_context(viewport=PHONE)).new_page()
            await log_in(phone, web_client, parent)
            await expect(phone.get_by_text("一時預かり")).to_be_visible(timeout=30_000)
            meeting = phone.get_by_text(f"みと保育園 · 面談: {month_day(meeting_day)} 10:30")
            await expect(meeting).to_be_visible(timeout=30_000)
            await reveal(phone, meeting)
            await snap(phone, "meeting-4-parent-sees-it.png")
        finally:
            await browser.close()

    [pending] = (await http.get(f"/v1/nurseries/{nursery_id}/applications", headers=staff.headers)).json()
    assert datetime.fromisoformat(pending["meetingAt"]) == datetime.combine(meeting_day, time(10, 30), TOKYO)
