"""A resident applies to a lottery on a phone (issue 19): the card names the facility and its courts,
the window and the close in Japan time; the resident picks the court, two ranked choices by day and
time, is refused the same slot twice, confirms, and the application is on the server with that court
and those times. The facility and the lottery are set up over HTTP; the resident works through the
screen only. Screenshots in tests/artifacts/e2e/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from schema.time import TOKYO
from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, choose, log_in, pick, reveal, snap, tap_until
from tests.e2e.test_facility_staff import COURT
from tests.e2e.test_homes import PHONE
from tests.integration.facilities.conftest import make_venue
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
WEEKDAYS = "月火水木金土日"


def shown(day: date) -> str:
    """12/3(木), as the form writes a day."""
    return f"{day.month}/{day.day}({WEEKDAYS[day.weekday()]})"


async def test_resident_applies_with_two_ranked_choices_and_is_refused_the_same_slot_twice(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    venue = await make_venue(http, actors)
    court = await http.post(f"/v1/facilities/{venue.facility_id}/resources", json=COURT, headers=venue.staff.headers)
    assert court.status_code == 201, court.text
    court_id = court.json()["id"]
    # The month after next, so every one of its days is still to come.
    month = (datetime.now(TOKYO).date().replace(day=1) + timedelta(days=62)).replace(day=1)
    now = datetime.now(UTC)
    created = await http.post(
        "/v1/lotteries",
        json={
            "resourceIds": [venue.resource_id, court_id],
            "month": f"{month:%Y-%m}",
            "opensAt": (now - timedelta(minutes=1)).isoformat(),
            "closesAt": (now + timedelta(days=3)).isoformat(),
            "perUserCap": 2,
        },
        headers=venue.staff.headers,
    )
    assert created.status_code == 201, created.text
    lottery = created.json()
    closes = datetime.fromisoformat(lottery["closesAt"]).astimezone(TOKYO)
    resident = await actors.resident()
    first, third, fifth = month, month.replace(day=3), month.replace(day=5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        phone = await (await browser.new_context(viewport=PHONE)).new_page()
        try:
            await log_in(phone, web_client, resident)
            card = phone.get_by_text("水戸市総合体育館 · メインアリーナ · 第1コート", exact=True)
            await expect(card).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text(f"{month.year}年{month.month}月の抽選", exact=True)).to_be_visible()
            close = f"締切: {shown(closes.date())} {closes:%H:%M} (日本時間)"
            await expect(phone.get_by_text(close, exact=True)).to_be_visible()
            await expect(phone.get_by_text("1人 2 件まで申し込めます", exact=True)).to_be_visible()
            await reveal(phone, phone.get_by_role("radio", name="第1コート", exact=True))
            await snap(phone, "lottery-1-card.png")

            async def choose_in_form(menu: str, option: str) -> None:
                await reveal(phone, phone.get_by_role("button", name=menu, exact=True))
                kind = menu.split(":")[0]
                await choose(phone, menu, option, phone.get_by_role("button", name=f"{kind}: {option}", exact=True))

            # The court (09:00–21:00): its units are what the time menu offers.
            await pick(phone, "radio", "第1コート")
            await expect(phone.get_by_text("第1コート: 利用時間 09:00–21:00 (60分単位)", exact=True)).to_be_visible(
                timeout=30_000
            )
            await choose_in_form(f"利用日: {shown(first)}", shown(third))
            await choose_in_form("時間: 09:00–10:00", "10:00–11:00")
            add = phone.get_by_role("button", name="希望に追加")
            await reveal(phone, add)
            await add.click()
            choice_1 = phone.get_by_text(f"第1希望: 第1コート {shown(third)} 10:00–11:00", exact=True)
            await expect(choice_1).to_be_visible(timeout=30_000)

            await choose_in_form(f"利用日: {shown(third)}", shown(fifth))
            await reveal(phone, add)
            await add.click()
            choice_2 = phone.get_by_text(f"第2希望: 第1コート {shown(fifth)} 10:00–11:00", exact=True)
            await expect(choice_2).to_be_visible(timeout=30_000)

            # The first choice again: refused in the form, nothing added.
            await choose_in_form(f"利用日: {shown(fifth)}", shown(third))
            await reveal(phone, add)
            await add.click()
            refusal = phone.get_by_text("同じ枠はすでに第1希望にあります。別の日か時間を選んでください", exact=True)
            await expect(refusal).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("第3希望:", exact=False)).to_have_count(0)
            await reveal(phone, refusal)
            await snap(phone, "lottery-2-same-slot-refused.png")

            # Apply: the confirmation shows both choices before anything is sent.
            apply = phone.get_by_role("button", name="申し込む", exact=True)
            await reveal(phone, apply)
            await tap_until(apply, phone.get_by_text("この内容で申し込みますか"))
            # (The form behind the dialog may show the same lines: the dialog's come last.)
            await expect(phone.get_by_text(f"第2希望: 第1コート {shown(fifth)} 10:00–11:00").last).to_be_visible()
            await snap(phone, "lottery-3-confirm.png")
            await apply.last.click()
            received = phone.get_by_text("✓ 申し込みを受け付けました", exact=True)
            await expect(received).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("あと 1 件申し込めます", exact=True)).to_be_visible()
            # The form folds away; another application (within the cap) is one tap further.
            await expect(add).to_have_count(0)
            await expect(phone.get_by_role("button", name="もう1件申し込む")).to_be_visible()
            await reveal(phone, received)
            await snap(phone, "lottery-4-received.png")
            mine = phone.get_by_text(f"水戸市総合体育館 · {month.year}年{month.month}月 · 抽選待ち", exact=True)
            await expect(mine).to_be_visible()
            listed = phone.get_by_text(f"第2希望: 第1コート {shown(fifth)} 10:00–11:00", exact=True)
            await expect(listed).to_have_count(2)  # in the card and in the list of applications
            await reveal(phone, listed.last)
            await snap(phone, "lottery-5-my-applications.png")
        finally:
            await browser.close()

    applications = await http.get("/v1/me/lottery-applications", headers=resident.headers)
    [application] = applications.json()
    assert application["lotteryId"] == lottery["id"]
    starts = [datetime.combine(day, datetime.min.time().replace(hour=10), TOKYO) for day in (third, fifth)]
    assert [(p["rank"], p["resourceId"], datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]))
            for p in application["preferences"]] == [
        (1, court_id, starts[0], starts[0] + timedelta(hours=1)),
        (2, court_id, starts[1], starts[1] + timedelta(hours=1)),
    ]  # fmt: skip
