"""The facility staff's desks in a real browser (issue 23): a court closed for maintenance through a
closure shows its day closed in the schedule; a fee edited (after a typo refused in Japanese) shows
the new fee; a lottery created on the screen is drawn and published after a resident applied, and
links to its public record. The resident applies over HTTP; staff work through the screen only.
Screenshots go to tests/artifacts/e2e/."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta

import httpx
import pytest

from schema.time import TOKYO
from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, log_in, pick, snap, tap_until, type_into
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

COURT = {
    "name": "第1コート",
    "unitMinutes": 60,
    "opensAt": "09:00:00",
    "closesAt": "21:00:00",
    "feePerUnit": 800,
    "cancelDeadlineHours": 24,
}


async def test_facility_staff_close_a_court_edit_a_fee_and_draw_a_lottery(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.integration.facilities.conftest import make_venue

    venue = await make_venue(http, actors)
    court = await http.post(f"/v1/facilities/{venue.facility_id}/resources", json=COURT, headers=venue.staff.headers)
    assert court.status_code == 201, court.text
    court_id = court.json()["id"]
    resident = await actors.resident()
    maintenance_day = venue.day(2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await browser.new_page(viewport={"width": 800, "height": 900})
        try:
            await log_in(desk, web_client, venue.staff)
            await expect(desk.get_by_text("予約台帳")).to_be_visible(timeout=30_000)

            # A closure: the court, for one whole day, for maintenance.
            add = desk.get_by_role("button", name="休館を追加")
            await tap_until(desk.get_by_role("button", name="休館日"), add)
            await tap_until(add, desk.get_by_label("開始日 (YYYY-MM-DD)"))
            await pick(desk, "radio", "第1コート")
            await type_into(desk, "開始日 (YYYY-MM-DD)", str(maintenance_day))
            await type_into(desk, "終了日 (YYYY-MM-DD)", str(maintenance_day))
            await type_into(desk, "理由 (例: メンテナンス)", "床の補修 (メンテナンス)")
            await snap(desk, "facility-staff-1-closure-form.png")
            await desk.get_by_role("button", name="追加", exact=True).click()
            await expect(desk.get_by_text("休館を登録しました")).to_be_visible(timeout=30_000)
            lift = desk.get_by_role("button", name="休館を解除", exact=False)
            await expect(lift).to_have_count(1)
            await snap(desk, "facility-staff-2-closures.png")

            # The schedule of that day says so.
            await desk.get_by_role("button", name="予約", exact=True).click()
            for days in (1, 2):
                await desk.get_by_role("button", name="次の日").click()
                shown = venue.day(days)
                label = f"{shown} ({'月火水木金土日'[shown.weekday()]})"
                await expect(desk.get_by_text(label, exact=True)).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("休館 · 第1コート")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("床の補修 (メンテナンス)", exact=False)).to_be_visible()
            await snap(desk, "facility-staff-3-day-closed.png")

            # A fee: a typo is refused in the person's language, then the new fee is shown.
            await desk.get_by_role("button", name="施設・料金").click()
            await desk.get_by_role("button", name="編集: 第1コート").click()
            await expect(desk.get_by_label("料金 市民 (円/枠)")).to_be_visible(timeout=30_000)
            await type_into(desk, "料金 市民 (円/枠)", "1200円")
            await desk.get_by_role("button", name="保存").click()
            await expect(desk.get_by_text("料金 市民 (円/枠): 0 以上の整数 (円) で入力してください")).to_be_visible(
                timeout=30_000
            )
            await desk.mouse.wheel(0, 300)  # the form's end, as a person scrolls to read what is wrong
            await snap(desk, "facility-staff-4-fee-refused.png")
            await type_into(desk, "料金 市民 (円/枠)", "1200")
            await desk.get_by_role("button", name="保存").click()
            await expect(desk.get_by_text("保存しました")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("料金 (市民): ¥1,200")).to_be_visible()
            await snap(desk, "facility-staff-5-fee-saved.png")
            # Closing asks first, with the choice about future bookings made explicitly; back leaves it open.
            await desk.get_by_role("button", name="利用停止: メインアリーナ").click()
            await expect(desk.get_by_role("radio", name="取り消して予約者に理由を知らせる")).to_be_visible(
                timeout=30_000
            )
            await expect(desk.get_by_role("radio", name="予約があれば停止しない")).to_be_visible()
            await snap(desk, "facility-staff-5b-close-dialog.png")
            await desk.get_by_role("button", name="戻る").click()
            await expect(desk.get_by_role("radio", name="予約があれば停止しない")).to_have_count(0, timeout=30_000)
            saved = await http.get(f"/v1/facilities/{venue.facility_id}")
            assert [r["feePerUnit"] for r in saved.json()["resources"] if r["id"] == court_id] == [1200]

            # A lottery for the court next month, closing at the next whole minute at least a minute away.
            await desk.get_by_role("button", name="抽選", exact=True).click()
            await desk.get_by_role("button", name="抽選の作成").click()
            await pick(desk, "radio", "第1コート")
            now = datetime.now(TOKYO)
            closes = datetime.fromtimestamp(math.ceil((now.timestamp() + 70) / 60) * 60, TOKYO)
            await type_into(desk, "締切 (YYYY-MM-DD HH:MM)", f"{closes:%Y-%m-%d %H:%M}")
            await desk.get_by_role("button", name="抽選を作成").click()
            await expect(desk.get_by_text("抽選を作成しました")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("状態: 申込受付中")).to_be_visible()

            # A resident applies for the 10th of next month, 10:00–11:00.
            open_lotteries = await http.get("/v1/lotteries", params={"state": "open"})
            [lottery] = [item for item in open_lotteries.json() if court_id in item["resourceIds"]]
            month = datetime.fromisoformat(lottery["month"]).date()
            start = datetime.combine(month.replace(day=10), time(10), TOKYO)
            preference = {
                "resourceId": court_id,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            }
            applied = await http.post(
                f"/v1/lotteries/{lottery['id']}/applications",
                json={"preferences": [preference]},
                headers=resident.headers,
            )
            assert applied.status_code == 201, applied.text
            await desk.get_by_role("button", name="更新").click()
            await expect(desk.get_by_text("申込数: 1", exact=False)).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("第1コート: 1件 (第1希望 1)", exact=False)).to_be_visible()
            await snap(desk, "facility-staff-6-lottery-open.png")

            # The draw waits for the close, as the server does; a person would come back then.
            await desk.wait_for_timeout(max(0.0, (closes - datetime.now(TOKYO)).total_seconds() + 1) * 1000)
            draw = desk.get_by_role("button", name=f"抽選して結果を公開: #{lottery['id']}")
            for _attempt in range(5):
                await desk.get_by_role("button", name="更新").click()
                try:
                    await expect(draw).to_be_visible(timeout=10_000)
                    break
                except AssertionError:
                    continue
            await draw.click()
            confirm = desk.get_by_role("button", name="抽選して結果を公開", exact=True)
            await expect(confirm).to_be_visible(timeout=30_000)
            await snap(desk, "facility-staff-7-draw-dialog.png")
            await confirm.click()
            await expect(desk.get_by_text("状態: 抽選済")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("結果公開済")).to_be_visible()
            record = desk.get_by_role("button", name=f"検証用の公開記録: #{lottery['id']}")
            await expect(record).to_be_visible()
            await snap(desk, "facility-staff-8-drawn.png")
        finally:
            await browser.close()

    published = await http.get(f"/v1/lotteries/{lottery['id']}")
    assert published.json()["state"] == "drawn"
    assert published.json()["seed"]
    mine = await http.get("/v1/me/lottery-applications", headers=resident.headers)
    assert [a["wonRank"] for a in mine.json()] == [1]
