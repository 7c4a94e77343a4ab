"""The web build is self-contained: a hospital's, an ambulance's or a closed municipal network may
reach nothing but our server, so no page may ask any other host for anything (the Rive runtime,
CanvasKit, fonts). And every button on the front-line homes has a name a screen reader says.

Both are checked in a real Chromium against `musubi web`; a failure lists what went wrong.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, RequestLog, log_in, snap
from tests.support import Actor, Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

PHONE = {"width": 412, "height": 915}
CASE = {"estimatedAge": 70, "sex": "male", "chiefComplaint": "胸痛 chest pain", "jcs": "I-1",
        "vitals": {"sbp": 90, "hr": 110, "spo2": 93}, "location": {"lat": 36.37, "lon": 140.47}}  # fmt: skip
# A line of Playwright's ARIA snapshot for a button: `- button "name"`, or `- button` with no name.
BUTTON = re.compile(r"^\s*- button\b(?P<rest>.*)$")


async def ambulance_request_to(http: httpx.AsyncClient, paramedic: Actor, hospital: int) -> None:
    case = await http.post("/v1/ems/cases", json=CASE, headers=paramedic.headers)
    assert case.status_code == 201, case.text
    sent = await http.post(
        f"/v1/ems/cases/{case.json()['id']}/requests", json={"hospitalIds": [hospital]}, headers=paramedic.headers
    )
    assert sent.status_code == 201, sent.text


async def nameless_buttons(page: Any, name: str) -> list[str]:
    """The buttons in Flutter's accessibility tree that a screen reader could only call "button",
    each with the line above it to tell where it is. The whole tree is kept beside the screenshot."""
    snapshot: str = await page.locator("body").aria_snapshot()
    (ARTIFACTS / name).write_text(snapshot, encoding="utf-8")
    lines = snapshot.splitlines()
    return [
        f"{lines[n - 1].strip()} / {line.strip()}" if n else line.strip()
        for n, line in enumerate(lines)
        if (match := BUTTON.match(line)) and not match["rest"].lstrip().startswith('"')
    ]


async def test_resident_and_er_pages_reach_no_host_but_this_one(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.integration.facilities.conftest import make_venue

    await make_venue(http, actors)
    resident = await actors.resident()
    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    mito = await actors.organization("hospital", "水戸中央病院", municipality_id=1)
    nurse = await actors.member("hospital", "er_staff", mito)
    await ambulance_request_to(http, paramedic, mito)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            phone = await (await browser.new_context(viewport=PHONE)).new_page()
            phone_requests = RequestLog(phone)
            await log_in(phone, web_client, resident)
            await expect(phone.get_by_role("button", name="カレンダーに追加")).to_be_visible(timeout=30_000)
            await snap(phone, "self-contained-resident.png")

            desk = await (await browser.new_context(viewport={"width": 800, "height": 900})).new_page()
            desk_requests = RequestLog(desk)
            await log_in(desk, web_client, nurse)
            await expect(desk.get_by_role("button", name="受入可")).to_be_visible(timeout=30_000)
            await snap(desk, "self-contained-er.png")
        finally:
            await browser.close()

    assert phone_requests.urls, "the request log saw nothing: is page.on('request') still wired?"
    assert phone_requests.off_machine == [], "the resident's page reached another host"
    assert desk_requests.off_machine == [], "the ER desk's page reached another host"


async def test_every_button_on_the_front_line_homes_has_a_name(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.integration.facilities.conftest import make_venue

    await make_venue(http, actors)
    resident = await actors.resident()
    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    mito = await actors.organization("hospital", "水戸中央病院", municipality_id=1)
    nurse = await actors.member("hospital", "er_staff", mito)
    await ambulance_request_to(http, paramedic, mito)
    homes = (  # who, what shows their home is drawn, the screenshot
        (resident, ("button", "カレンダーに追加"), "a11y-resident.png"),
        (paramedic, ("text", "搬送先候補"), "a11y-paramedic.png"),
        (nurse, ("button", "受入可"), "a11y-er.png"),
    )

    nameless: dict[str, list[str]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            for person, landmark, screenshot in homes:
                # One page at a time: three Flutter pages at once are slow to take typing on a loaded machine.
                context = await browser.new_context(viewport=PHONE)
                page = await context.new_page()
                await log_in(page, web_client, person)
                role, name = landmark
                drawn = page.get_by_text(name) if role == "text" else page.get_by_role(role, name=name)
                await expect(drawn.first).to_be_visible(timeout=30_000)
                await expect(page.get_by_role("button", name="ログアウト")).to_be_visible(timeout=30_000)
                await snap(page, screenshot)
                nameless[screenshot] = await nameless_buttons(page, screenshot.replace(".png", ".txt"))
                await context.close()
        finally:
            await browser.close()

    assert all(not buttons for buttons in nameless.values()), nameless


async def test_the_paramedic_home_sends_on_its_own_what_this_browser_kept_waiting(
    actors: Actors, db: asyncpg.Pool, web_client: str
) -> None:
    """The web build keeps the send queue in the browser's storage (localStorage, one key per
    person): an action left waiting by an earlier page (the API was down, then the page was
    closed) is picked up when the paramedic home opens and sent once, with its key, untouched."""
    from playwright.async_api import async_playwright, expect

    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    key = str(uuid.uuid4())
    waiting = {"label": "open_case", "method": "POST", "path": "/v1/ems/cases", "body": CASE, "key": key,
               "status": "queued", "result": None, "error": None, "path_from": None}  # fmt: skip

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            crew = await (await browser.new_context(viewport=PHONE)).new_page()
            await crew.goto(web_client)
            # What Flet's SharedPreferences wrote on the earlier page: "flutter."-prefixed, JSON-encoded.
            await crew.evaluate(
                "([name, text]) => localStorage.setItem(name, JSON.stringify(text))",
                [f"flutter.musubi.send_queue.{paramedic.account_id}", json.dumps([waiting])],
            )
            await log_in(crew, web_client, paramedic)
            await expect(crew.get_by_text("搬送先候補")).to_be_visible(timeout=30_000)
            # Nobody taps anything: the queue's own retry sends it, about a second after the home opens.
            sent = 0
            for _attempt in range(120):
                sent = await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key)
                if sent:
                    break
                await asyncio.sleep(0.5)
            # And the browser's storage no longer holds it: nothing left for the next page to send.
            await crew.wait_for_function(
                "name => localStorage.getItem(name) === JSON.stringify('[]')",
                arg=f"flutter.musubi.send_queue.{paramedic.account_id}",
                timeout=30_000,
            )
            # The crew sees the reloaded action as part of its case, not a blank form.
            await expect(crew.get_by_text("事案の登録", exact=False).first).to_be_visible(timeout=30_000)
            await snap(crew, "queue-sent-after-reload.png")
        finally:
            await browser.close()

    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key) == 1
    assert await db.fetchval("SELECT count(*) FROM ems_cases WHERE opened_by = $1", paramedic.account_id) == 1
