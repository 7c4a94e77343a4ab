"""The homes beyond the ambulance, in a phone-sized Chromium: the caseworker's request and the
shelters' answers. Screenshots in tests/artifacts/e2e/."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser import (
    ARTIFACTS,
    BROWSER_ARGS,
    CHROMIUM,
    fill_and_tap,
    log_in,
    pick,
    snap,
    tap_until_gone,
)
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
PHONE = {"width": 412, "height": 915}


async def test_caseworker_asks_two_shelters_for_a_small_boy_one_declines_with_a_reason_one_takes_him(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    center = await actors.organization("guidance_center", "中央児童相談所")
    caseworker = await actors.member("guidance_center", "caseworker", center)
    shelters = [await actors.organization("shelter", f"一時保護所 {n}") for n in (1, 2, 3)]
    staff = [await actors.member("shelter", "staff", shelter) for shelter in shelters]
    for shelter, person in zip(shelters, staff, strict=True):
        for category in ("0-5:any", "6-12:female"):
            response = await http.put(
                f"/v1/shelters/{shelter}/units/{category}", json={"capacity": 2}, headers=person.headers
            )
            assert response.status_code == 200, response.text
    taker, decliner, unasked = shelters
    names = {shelter: f"一時保護所 {n}" for n, shelter in zip((1, 2, 3), shelters, strict=True)}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        worker = await (await browser.new_context(viewport=PHONE)).new_page()
        try:
            await log_in(worker, web_client, caseworker)
            await expect(worker.get_by_text("居室区分: 6〜12歳 女子")).to_be_visible(timeout=30_000)
            await pick(worker, "radio", "男性")
            for age in range(7, 2, -1):  # 8 → 3, one redraw at a time, as a person watches the number
                await worker.get_by_role("button", name="推定年齢 −").click()
                await expect(worker.get_by_text(str(age), exact=True)).to_be_visible(timeout=30_000)
            await expect(worker.get_by_text("居室区分: 0〜5歳 共用")).to_be_visible(timeout=30_000)
            await pick(worker, "radio", "緊急")
            await pick(worker, "checkbox", "アレルギー対応")
            for shelter in (taker, decliner):
                await pick(worker, "checkbox", f"{names[shelter]} · 空き 2")
            await expect(worker.get_by_role("checkbox", name=f"{names[unasked]} · 空き 2")).not_to_be_checked()
            await snap(worker, "h1-caseworker-request-form.png")
            await worker.get_by_role("button", name="選んだ施設へ依頼").click()
            await expect(worker.get_by_text("3歳 · 男性 · 0〜5歳 共用 · 緊急 · 回答待ち", exact=False)).to_be_visible(
                timeout=30_000
            )
            await expect(worker.get_by_text(f"→ {names[decliner]} 回答待ち")).to_be_visible()
            await snap(worker, "h2-caseworker-request-sent.png")

            no = await (await browser.new_context(viewport=PHONE)).new_page()
            await log_in(no, web_client, staff[1])
            await no.get_by_role("button", name="受入不可", exact=True).click(timeout=30_000)
            await expect(no.get_by_text("受入不可の理由")).to_be_visible(timeout=30_000)
            await snap(no, "h3-shelter-decline-reasons.png")
            await no.get_by_role("button", name="満床").click()
            await expect(no.get_by_text(f"→ {names[decliner]} 受入不可 (満床)")).to_be_visible(timeout=30_000)
            await snap(no, "h4-shelter-declined.png")

            yes = await (await browser.new_context(viewport=PHONE)).new_page()
            await log_in(yes, web_client, staff[0])
            # Only its own beds have ± buttons.
            await expect(yes.get_by_role("button", name="0〜5歳 共用 ベッドを増やす")).to_have_count(1, timeout=30_000)
            accept = yes.get_by_role("button", name="受入可", exact=True)
            await tap_until_gone(accept)

            # The caseworker sees both answers live, and places him.
            await expect(worker.get_by_text(f"→ {names[decliner]} 受入不可 (満床)")).to_be_visible(timeout=30_000)
            await expect(worker.get_by_text(f"→ {names[taker]} 受入可")).to_be_visible(timeout=30_000)
            await snap(worker, "h5-caseworker-sees-answers.png")
            await fill_and_tap(
                worker,
                {"氏名": "高橋 陽太", "生年月日": "2023-05-05"},
                worker.get_by_role("button", name="措置決定"),
                worker.get_by_text("高橋 陽太 (2023-05-05)").first,
                worker.get_by_text("氏名と生年月日を入力してください"),
            )
            await expect(worker.get_by_text("3歳 · 男性 · 0〜5歳 共用 · 緊急 · 入所", exact=False)).to_be_visible()
            await snap(worker, "h6-caseworker-placed.png")
            await expect(yes.get_by_text(f"{names[taker]} · 0〜5歳 共用 · 空き 1/2")).to_be_visible(timeout=30_000)
            await snap(yes, "h7-shelter-sees-placement.png")
        finally:
            await browser.close()
