"""Shelter intake from both sides, by name: a caseworker on a phone asks two chosen shelters for a
3-year-old boy, one declines with a reason, the other accepts, he is placed and the caseworker
sees how many minutes it took; the shelter sees him among the children in its care, adds a bed
and discharges him after confirming. Screenshots in tests/artifacts/e2e/ (i*.png)."""

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
DESK = {"width": 1024, "height": 900}  # the shelter's office computer


async def test_caseworker_places_a_boy_by_shelter_name_and_the_shelter_discharges_him(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import expect

    center = await actors.organization("guidance_center", "北児童相談所")
    caseworker = await actors.member("guidance_center", "caseworker", center)
    mirai, hikari, sora = [
        await actors.organization("shelter", name)
        for name in ("一時保護所みらい", "一時保護所ひかり", "一時保護所そら")
    ]
    staff = {shelter: await actors.member("shelter", "staff", shelter) for shelter in (mirai, hikari, sora)}
    for shelter, person in staff.items():
        for category in ("0-5:any", "6-12:female"):
            response = await http.put(
                f"/v1/shelters/{shelter}/units/{category}", json={"capacity": 2}, headers=person.headers
            )
            assert response.status_code == 200, response.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            worker = await (await browser.new_context(viewport=PHONE)).new_page()
            await log_in(worker, web_client, caseworker)
            # The board names every shelter; no numbers to decode.
            await expect(worker.get_by_text("一時保護所そら · 0〜5歳 共用 · 空き 2/2")).to_be_visible(timeout=30_000)
            await pick(worker, "radio", "男性")
            for age in range(7, 2, -1):
                await worker.get_by_role("button", name="推定年齢 −").click()
                await expect(worker.get_by_text(str(age), exact=True)).to_be_visible(timeout=30_000)
            await expect(worker.get_by_text("居室区分: 0〜5歳 共用")).to_be_visible(timeout=30_000)
            for name in ("一時保護所みらい", "一時保護所ひかり"):
                await pick(worker, "checkbox", f"{name} · 空き 2")
            await expect(worker.get_by_role("checkbox", name="一時保護所そら · 空き 2")).not_to_be_checked()
            await snap(worker, "i1-caseworker-chooses-shelters-by-name.png")
            await worker.get_by_role("button", name="選んだ施設へ依頼").click()
            await expect(worker.get_by_text("→ 一時保護所ひかり 回答待ち")).to_be_visible(timeout=30_000)
            await expect(worker.get_by_role("button", name="回答待ち 1", exact=True)).to_be_visible()

            # Hikari declines: not enough staff tonight.
            no = await (await browser.new_context(viewport=DESK)).new_page()
            await log_in(no, web_client, staff[hikari])
            await no.get_by_role("button", name="受入不可", exact=True).click(timeout=30_000)
            await no.get_by_role("button", name="職員が足りない").click(timeout=30_000)
            await expect(no.get_by_text("→ 一時保護所ひかり 受入不可 (職員が足りない)")).to_be_visible(timeout=30_000)
            await expect(no.get_by_role("button", name="受入不可 1", exact=True)).to_be_visible()
            await snap(no, "i2-shelter-declined-with-reason.png")

            # Mirai accepts.
            yes = await (await browser.new_context(viewport=DESK)).new_page()
            await log_in(yes, web_client, staff[mirai])
            await expect(yes.get_by_text("入所中の児童")).to_be_visible(timeout=30_000)
            accept = yes.get_by_role("button", name="受入可", exact=True)
            await tap_until_gone(accept)

            # The caseworker sees both answers by name, the request under "accepted", and places him.
            await expect(worker.get_by_text("→ 一時保護所ひかり 受入不可 (職員が足りない)")).to_be_visible(
                timeout=30_000
            )
            await expect(worker.get_by_text("→ 一時保護所みらい 受入可")).to_be_visible(timeout=30_000)
            await worker.get_by_role("button", name="受入可 1", exact=True).click()
            await expect(worker.get_by_role("button", name="回答待ち 0", exact=True)).to_be_visible(timeout=30_000)
            await snap(worker, "i3-caseworker-sees-answers-by-name.png")
            await fill_and_tap(
                worker,
                {"氏名": "佐藤 蒼", "生年月日": "2023-02-14"},
                worker.get_by_role("button", name="措置決定"),
                worker.get_by_text("入所先: 一時保護所みらい"),
                worker.get_by_text("氏名と生年月日を入力してください"),
            )
            # Filtered to "accepted", the placed request has left the list; under "placed" it is back.
            await worker.get_by_role("button", name="入所 1", exact=True).click()
            await expect(worker.get_by_text("3歳 · 男性 · 0〜5歳 共用 · 至急 · 入所", exact=False)).to_be_visible(
                timeout=30_000
            )
            await expect(worker.get_by_text("措置まで", exact=False).first).to_be_visible()
            await snap(worker, "i4-caseworker-placement-with-minutes.png")

            # The shelter sees him in its care, adds a bed, and discharges him after saying yes.
            await expect(yes.get_by_text("佐藤 蒼 (2023-02-14)").first).to_be_visible(timeout=30_000)
            await expect(yes.get_by_text("ベッド 2 · 使用中 1")).to_be_visible(timeout=30_000)
            await yes.get_by_role("button", name="0〜5歳 共用 ベッドを増やす").click()
            await expect(yes.get_by_text("ベッド 3 · 使用中 1")).to_be_visible(timeout=30_000)
            await snap(yes, "i5-shelter-child-in-care.png")
            await yes.get_by_role("button", name="退所", exact=True).click()
            await expect(yes.get_by_text("この児童を退所とします。よろしいですか？")).to_be_visible(timeout=30_000)
            await snap(yes, "i6-shelter-confirms-discharge.png")
            await yes.get_by_role("button", name="退所を確定").click()
            await expect(yes.get_by_text("ベッド 3 · 使用中 0")).to_be_visible(timeout=30_000)
            await expect(yes.get_by_role("button", name="退所", exact=True)).to_have_count(0)
            await snap(yes, "i7-shelter-after-discharge.png")

            # The caseworker's list follows: no child in care, the request says when he left.
            await expect(worker.get_by_text("退所済", exact=False)).to_be_visible(timeout=30_000)
            await expect(worker.get_by_text("入所先: 一時保護所みらい")).to_have_count(0)
            await snap(worker, "i8-caseworker-after-discharge.png")

            # The same words in English: states and categories read as words, not codes.
            await worker.get_by_role("button", name="English").click()
            await expect(worker.get_by_role("button", name="Placed 1", exact=True)).to_be_visible(timeout=30_000)
            await expect(
                worker.get_by_text("3 yrs · Male · 0–5 yrs, any sex · Urgent · Placed", exact=False)
            ).to_be_visible()
            await snap(worker, "i9-caseworker-in-english.png")
        finally:
            await browser.close()
