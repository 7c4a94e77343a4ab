"""A front-line screen must survive a network blip: the link between the browser and the web
client is cut for 10 s (a tunnel, a dead zone) and restored, and what happened meanwhile or
right after must reach the screen without a reload.

The cut is a real TCP proxy between Chromium and `musubi web` that drops every connection and
refuses new ones; everything else (API, gateways, relays, PostgreSQL) stays up.

When the link returns the page reloads and re-attaches to its server session (mobile/static/
link-watch.js); that takes a few seconds on a loaded machine, so the 5 s a person may wait for
news is counted from the moment the desk is back (the banner gone, the header drawn).
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.e2e.browser import BROWSER_ARGS, CHROMIUM, CuttableLink, log_in, pick, snap
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

CUT_SECONDS = 10
# Limits are generous so a loaded CI machine does not flake: a test waits for what a person sees, it
# does not time it (in the runs we watched the banner showed ~0.4 s after the cut).
BACK_WITHIN_MS = 60_000  # the reload of the page after the link returns (slow on a loaded CI machine)


async def back_online(page: object) -> None:
    from playwright.async_api import expect

    await expect(page.get_by_text("切断", exact=False)).to_have_count(0, timeout=BACK_WITHIN_MS)  # type: ignore[attr-defined]
    # A reloaded Flutter page starts with its accessibility tree off, as at first load: turn it on.
    await page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=BACK_WITHIN_MS)  # type: ignore[attr-defined]
    await page.evaluate("document.querySelector('flt-semantics-placeholder').click()")  # type: ignore[attr-defined]
    await expect(page.get_by_text("接続中")).to_be_visible(timeout=BACK_WITHIN_MS)  # type: ignore[attr-defined]


CASE = {"estimatedAge": 70, "sex": "male", "chiefComplaint": "胸痛 chest pain", "jcs": "I-1",
        "vitals": {"sbp": 90, "hr": 110, "spo2": 93}, "location": {"lat": 36.37, "lon": 140.47}}  # fmt: skip


async def test_er_desk_sees_a_request_sent_right_after_its_connection_came_back(
    http: httpx.AsyncClient, actors: Actors, cuttable_web_client: CuttableLink
) -> None:
    from playwright.async_api import async_playwright, expect

    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    mito = await actors.organization("hospital", "水戸中央病院", municipality_id=1)
    nurse = await actors.member("hospital", "er_staff", mito)
    link = cuttable_web_client

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await (await browser.new_context(viewport={"width": 800, "height": 900})).new_page()
        await desk.add_init_script(
            "window.chimes = 0; const play = HTMLMediaElement.prototype.play;"
            "HTMLMediaElement.prototype.play = function () { window.chimes++; return play.apply(this, arguments); };"
        )
        try:
            await log_in(desk, link.url, nurse)
            await expect(desk.get_by_text("ありません")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("接続中")).to_be_visible(timeout=30_000)

            link.cut()
            # The person at the desk is told at once, and still sees the last screen.
            await expect(desk.get_by_text("切断", exact=False).first).to_be_visible(timeout=20_000)
            await snap(desk, "c1-er-during-cut.png")
            await asyncio.sleep(CUT_SECONDS)
            link.restore()

            case = await http.post("/v1/ems/cases", json=CASE, headers=paramedic.headers)
            assert case.status_code == 201, case.text
            sent = await http.post(
                f"/v1/ems/cases/{case.json()['id']}/requests", json={"hospitalIds": [mito]}, headers=paramedic.headers
            )
            assert sent.status_code == 201, sent.text
            await back_online(desk)
            await expect(desk.get_by_text("新しい受入照会があります")).to_be_visible(timeout=20_000)
            await expect(desk.get_by_role("group", name=re.compile("胸痛 chest pain"))).to_be_visible(timeout=20_000)
            await desk.wait_for_function("window.chimes >= 1", timeout=30_000)
            await snap(desk, "c2-er-after-cut-new-request.png")
        finally:
            await browser.close()


async def test_paramedic_sees_an_acceptance_that_arrived_during_the_cut(
    http: httpx.AsyncClient, actors: Actors, cuttable_web_client: CuttableLink
) -> None:
    from playwright.async_api import async_playwright, expect

    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    mito = await actors.organization("hospital", "水戸中央病院", municipality_id=1)
    nurse = await actors.member("hospital", "er_staff", mito)
    link = cuttable_web_client

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        crew = await browser.new_page(viewport={"width": 412, "height": 915})
        try:
            await log_in(crew, link.url, paramedic)
            await pick(crew, "checkbox", "水戸中央病院", exact=False)
            await crew.get_by_role("button", name="選択した病院へ一斉照会").click()
            await expect(crew.get_by_text("回答待ち")).to_have_count(1, timeout=30_000)

            link.cut()
            await expect(crew.get_by_text("切断", exact=False).first).to_be_visible(timeout=20_000)
            [request] = (await http.get("/v1/ems/inbox", headers=nurse.headers)).json()
            answered = await http.post(
                f"/v1/ems/requests/{request['requestId']}/response",
                json={"decision": "accept", "department": "emergency"},
                headers=nurse.headers,
            )
            assert answered.status_code == 201, answered.text
            await snap(crew, "c3-paramedic-during-cut.png")
            await asyncio.sleep(CUT_SECONDS)
            link.restore()

            await back_online(crew)
            await expect(crew.get_by_role("button", name="この病院に決定")).to_be_visible(timeout=20_000)
            await snap(crew, "c4-paramedic-after-cut.png")
        finally:
            await browser.close()
