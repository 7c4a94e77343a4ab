"""The destination ER sees the patient coming: a paramedic on a phone-sized Chromium fills the whole
case (ETA, allergies, medications), asks a hospital, the ER accepts in its own browser, the crew
confirms the destination and records a second vitals set, and the ER's "patients on the way"
shows the ETA, both vitals sets and the photo. Screenshots in tests/artifacts/e2e/ems-*.png."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest

from tests.e2e.browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, log_in, pick, snap, type_into
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
PHONE = {"width": 412, "height": 915}
DESK = {"width": 800, "height": 900}


def ecg_strip_png(width: int = 240, height: int = 120) -> bytes:
    """A small PNG a camera might send: a red trace on white, so a thumbnail has something to show."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            trace = abs(y - (height // 2 - (40 if x % 60 in range(28, 32) else 0))) < 3
            row += bytes((200, 20, 20) if trace else (255, 255, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


async def tap_until(page: Any, button: str, shown: str) -> None:
    """Tap a stepper button once and wait for the value a person reads; a tap lost in a redraw is
    tapped again."""
    from playwright.async_api import expect

    for _attempt in range(3):
        await page.get_by_role("button", name=button).click()
        try:
            await expect(page.get_by_text(shown, exact=True).first).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            continue
    await expect(page.get_by_text(shown, exact=True).first).to_be_visible()


async def test_destination_er_sees_the_incoming_patient_with_eta_and_a_second_vitals_set(
    http: httpx.AsyncClient, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    fire = await actors.organization("fire_department", "水戸消防 Mito FD")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    mito = await actors.organization("hospital", "水戸中央病院 救命救急センター 附属 循環器センター", municipality_id=1)
    hitachi = await actors.organization("hospital", "日立総合病院", municipality_id=2)
    nurse = await actors.member("hospital", "er_staff", mito)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await (await browser.new_context(viewport=DESK)).new_page()
        crew = await (await browser.new_context(viewport=PHONE)).new_page()
        try:
            await log_in(desk, web_client, nurse)
            await expect(desk.get_by_text("受入照会")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("接続中")).to_be_visible(timeout=30_000)
            # The board shows each department's current status, as the crews see it.
            await expect(desk.get_by_text("救急科: 未設定")).to_be_visible()
            accepting = desk.get_by_text("救急科: 受入体制あり", exact=True)
            for _attempt in range(3):  # a tap during the redraw after login is lost; a person taps again
                await desk.get_by_role("button", name="受入体制あり").click()
                try:
                    await expect(accepting).to_be_visible(timeout=15_000)
                    break
                except AssertionError:
                    continue
            await expect(accepting).to_be_visible()
            await expect(desk.get_by_text("救急科: 受入体制あり (", exact=False)).to_be_visible()

            # The whole case, as a crew enters it.
            await log_in(crew, web_client, paramedic)
            await expect(crew.get_by_text("搬送先候補")).to_be_visible(timeout=30_000)
            await expect(crew.get_by_text("接続中")).to_be_visible(timeout=30_000)
            await type_into(crew, "主訴", "胸痛 30分前から")
            await type_into(crew, "アレルギー", "ペニシリン、卵")
            await type_into(crew, "服薬", "アスピリン")
            await tap_until(crew, "到着まで (分) +", "11")
            await tap_until(crew, "到着まで (分) +", "12")
            await tap_until(crew, "拡張期血圧 −", "75")
            await expect(crew.get_by_text("0.0 km · 受入体制あり")).to_be_visible()
            await pick(crew, "checkbox", "水戸中央病院", exact=False)
            await snap(crew, "ems-1-paramedic-case-form.png")
            # A double tap is one request: the button is off while the first is out.
            await crew.get_by_role("button", name="選択した病院へ一斉照会").dblclick()
            await expect(crew.get_by_text("病院からの回答")).to_be_visible(timeout=30_000)
            await expect(crew.get_by_text("回答待ち")).to_have_count(1, timeout=30_000)
            cases = await http.get(f"/v1/fire-departments/{fire}/cases", headers=paramedic.headers)
            assert len(cases.json()) == 1, cases.text
            case_id = cases.json()[0]["id"]
            case = (await http.get(f"/v1/ems/cases/{case_id}", headers=paramedic.headers)).json()
            assert case["allergies"] == ["ペニシリン", "卵"]
            assert case["medications"] == ["アスピリン"]
            assert case["etaMinutes"] == 12
            assert case["vitals"][0]["dbp"] == 75
            assert [r["hospitalId"] for r in case["requests"]] == [mito]
            await snap(crew, "ems-2-paramedic-sent.png")

            # The ER accepts in its browser.
            await expect(desk.get_by_text("新しい受入照会があります")).to_be_visible(timeout=30_000)
            await desk.get_by_role("button", name="受入可").first.click()
            await expect(desk.get_by_role("button", name="受入可")).to_have_count(0, timeout=30_000)

            # The crew confirms the destination and records a second set of vitals.
            confirm = crew.get_by_role("button", name="この病院に決定")
            await expect(confirm).to_be_visible(timeout=30_000)
            await confirm.click()
            await expect(crew.get_by_text("搬送先決定")).to_be_visible(timeout=30_000)
            await tap_until(crew, "脈拍 +", "85")
            await tap_until(crew, "脈拍 +", "90")
            await crew.get_by_role("button", name="このバイタルを記録").click()
            await expect(crew.get_by_text("HR 90", exact=False)).to_be_visible(timeout=30_000)
            await expect(crew.get_by_text("バイタル: BP", exact=False)).to_have_count(2)
            await snap(crew, "ems-3-paramedic-timeline.png")
            photo = await http.post(
                f"/v1/ems/cases/{case_id}/attachments",
                content=ecg_strip_png(),
                headers={**paramedic.headers, "content-type": "image/png"},
            )
            assert photo.status_code == 201, photo.text

            # The destination sees the patient coming: ETA, both vitals sets (newest last), the photo.
            await expect(desk.get_by_text("搬送中の患者")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("到着予定", exact=False).first).to_be_visible()
            await expect(desk.get_by_text("HR 90", exact=False)).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text("HR 80", exact=False)).to_be_visible()
            await expect(desk.get_by_text("アレルギー: ペニシリン, 卵")).to_be_visible()
            thumbnail = desk.get_by_role("button", name="写真を拡大 1")
            await expect(thumbnail).to_be_visible(timeout=30_000)
            await snap(desk, "ems-4-er-incoming.png")
            await thumbnail.click()
            await expect(desk.get_by_role("button", name="閉じる")).to_be_visible(timeout=30_000)
            await snap(desk, "ems-5-er-photo-enlarged.png")
            await desk.get_by_role("button", name="閉じる").click()
            await expect(desk.get_by_role("button", name="閉じる")).to_have_count(0, timeout=30_000)

            # The next patient: a fresh form, the last case's answers gone.
            await crew.get_by_role("button", name="次の事案を開始").click()
            await expect(crew.get_by_text("病院からの回答")).to_have_count(0, timeout=30_000)
            await expect(crew.get_by_label("主訴", exact=True)).to_have_value("")
            await snap(crew, "ems-6-paramedic-new-case.png")
            # Status words and labels in the other language too, never raw codes.
            await crew.get_by_role("button", name="English").click()
            await expect(crew.get_by_text("0.0 km · Accepting")).to_be_visible(timeout=30_000)
            await expect(crew.get_by_text("30.5 km · Status unknown")).to_be_visible()
            await snap(crew, "ems-7-paramedic-english.png")
            del hitachi
        finally:
            await browser.close()
