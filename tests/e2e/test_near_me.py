"""Near me (issues 19, 23) in a phone-sized Chromium whose position is granted like a person's
browser would: a resident picks 近くから and sees the nearest facility first with its distance; where
the browser refuses, the resident is told and the municipality stays; a paramedic's hospital
distances are from the granted position, and the screen says so. Screenshots in tests/artifacts/e2e/."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, choose, log_in, snap
from tests.e2e.test_homes import PHONE
from tests.integration.facilities.test_availability_near import HERE, make_gym
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
NEAR_ME = "近くから"


async def test_resident_sees_the_nearest_facility_first_with_its_distance(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    await make_gym(http, actors, "遠いスタジオ", HERE[0] + 0.05, HERE[1])  # ~5.6 km
    await make_gym(http, actors, "近いスタジオ", HERE[0] + 0.001, HERE[1])  # ~111 m
    resident = await actors.resident()
    await actors.lives_in(resident, 1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        granted = await browser.new_context(
            geolocation={"latitude": HERE[0], "longitude": HERE[1]}, permissions=["geolocation"], viewport=PHONE
        )
        refused = await browser.new_context(viewport=PHONE)  # no permission: the browser says no
        phone = await granted.new_page()
        other = await refused.new_page()
        try:
            await log_in(phone, web_client, resident)
            await expect(phone.get_by_text("近いスタジオ", exact=True)).to_be_visible(timeout=30_000)
            await choose(phone, "市町村: 水戸市", NEAR_ME, phone.get_by_role("button", name=f"市町村: {NEAR_ME}"))
            nearest = phone.get_by_text("近いスタジオ", exact=True)
            farther = phone.get_by_text("遠いスタジオ", exact=True)
            await expect(nearest).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("ここから 111 m", exact=False)).to_be_visible(timeout=30_000)
            await expect(phone.get_by_text("ここから 5.6 km", exact=False)).to_be_visible(timeout=30_000)
            near_box, far_box = await nearest.bounding_box(), await farther.bounding_box()
            assert near_box is not None
            assert far_box is not None
            assert near_box["y"] < far_box["y"]  # the nearest is listed first
            await snap(phone, "near-1-resident-near-me.png")

            await log_in(other, web_client, resident)
            await expect(other.get_by_text("近いスタジオ", exact=True)).to_be_visible(timeout=30_000)
            await choose(other, "市町村: 水戸市", NEAR_ME, other.get_by_text("現在地を使えません", exact=False))
            await expect(other.get_by_role("button", name="市町村: 水戸市")).to_be_visible()
            await snap(other, "near-2-resident-position-refused.png")
        finally:
            await browser.close()


async def test_paramedic_sees_hospital_distances_from_the_granted_position(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    fire = await actors.organization("fire_department", "日立消防 Hitachi FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    await actors.organization("hospital", "水戸近く病院", municipality_id=1)
    await actors.organization("hospital", "日立近く病院", municipality_id=2)
    hitachi = await actors.db.fetchrow("SELECT lat, lon FROM municipalities WHERE id = 2")
    assert hitachi is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        context = await browser.new_context(
            geolocation={"latitude": hitachi["lat"], "longitude": hitachi["lon"]},
            permissions=["geolocation"],
            viewport=PHONE,
        )
        crew = await context.new_page()
        other = await (await browser.new_context(viewport=PHONE)).new_page()  # no permission
        try:
            await log_in(crew, web_client, paramedic)
            await expect(crew.get_by_text("搬送先候補")).to_be_visible(timeout=30_000)
            await expect(crew.get_by_text("距離と現場位置：この端末の現在地")).to_be_visible(timeout=60_000)
            # The hospital of the town the crew stands in is 0 km away; Mito's is not.
            await expect(crew.get_by_role("checkbox", name="日立近く病院 · 0.0 km", exact=False)).to_be_visible(
                timeout=30_000
            )
            await expect(crew.get_by_role("checkbox", name="水戸近く病院 · 0.0 km", exact=False)).to_have_count(0)
            await crew.get_by_text("距離と現場位置：この端末の現在地").scroll_into_view_if_needed()
            await snap(crew, "near-3-paramedic-device-position.png")

            # Where the browser refuses, the screen says the fixed Mito point is used.
            await log_in(other, web_client, paramedic)
            fixed = other.get_by_text("距離と現場位置：水戸市の既定地点（現在地は使えません）")
            await expect(fixed).to_be_visible(timeout=60_000)
            await expect(other.get_by_role("checkbox", name="水戸近く病院 · 0.0 km", exact=False)).to_be_visible()
            await fixed.scroll_into_view_if_needed()
            await snap(other, "near-4-paramedic-fixed-point.png")
        finally:
            await browser.close()
