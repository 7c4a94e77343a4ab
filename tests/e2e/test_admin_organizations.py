"""The prefecture admin's organisations in a real browser (issue 23): the admin filters the list by
kind and municipality, creates a nursery in 水戸市 and finds it listed, renames it, deactivates it
after the confirmation says what that does, reactivates it, and opens its members to invite a staff
member. Every change is checked on the server over HTTP too. Screenshots go to tests/artifacts/e2e/."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest

from tests.e2e.browser import BROWSER_ARGS, CHROMIUM, choose, log_in, snap, tap_until, tap_until_gone, type_into
from tests.e2e.test_admin_account import reveal
from tests.support import Actors

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

KITAIBARAKI = 12  # a municipality other tests leave alone, so the filtered list is short
TABLET = {"width": 800, "height": 1000}


async def test_the_prefecture_admin_creates_renames_deactivates_reactivates_and_staffs_a_nursery(
    http: httpx.AsyncClient, db: asyncpg.Pool, actors: Actors, web_client: str
) -> None:
    from playwright.async_api import async_playwright, expect

    tag = secrets.token_hex(2)
    hospital = f"北茨城みなみ病院 {tag}"
    other_nursery = f"北茨城こども園 {tag}"
    await actors.organization("hospital", hospital, municipality_id=KITAIBARAKI)
    await actors.organization("nursery", other_nursery, municipality_id=KITAIBARAKI)
    admin = await actors.prefecture_admin()
    name = f"みらい保育園 {tag}"
    reason = "運営法人の変更手続き中のため"

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        desk = await browser.new_page(viewport=TABLET)
        try:
            await log_in(desk, web_client, admin)
            # The prefecture's admin lands on the organisations.
            await expect(desk.get_by_text("組織の一覧", exact=True)).to_be_visible(timeout=30_000)

            await choose(desk, "種類: すべて", "病院", desk.get_by_role("button", name="種類: 病院"))
            await choose(desk, "市町村: すべての市町村", "北茨城市", desk.get_by_text(hospital, exact=True))
            await expect(desk.get_by_text("病院 · 北茨城市 · 有効").first).to_be_visible()
            await expect(desk.get_by_text(other_nursery, exact=True)).to_have_count(0)
            await snap(desk, "organizations-1-hospitals-in-kitaibaraki.png")

            # A nameless organisation is refused on the device, in the person's language.
            create = desk.get_by_role("button", name="作成する")
            await tap_until(desk.get_by_role("button", name="組織を追加"), create)
            await create.click()
            await expect(desk.get_by_text("組織の名前を入力してください")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_role("button", name="新しい組織の種類: 保育園")).to_be_visible()
            await type_into(desk, "組織の名前", name)
            await choose(
                desk,
                "新しい組織の市町村: 市町村なし",
                "水戸市",
                desk.get_by_role("button", name="新しい組織の市町村: 水戸市"),
            )
            await snap(desk, "organizations-2-new-nursery-form.png")
            await tap_until_gone(create)
            # The list turns to the new organisation's kind, municipality and page.
            await expect(desk.get_by_text("組織を作成しました")).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text(name, exact=True)).to_be_visible()
            await expect(desk.get_by_role("button", name="種類: 保育園")).to_be_visible()
            await expect(desk.get_by_role("button", name="市町村: 水戸市")).to_be_visible()
            deactivate = desk.get_by_role("button", name=f"無効にする: {name}")
            await reveal(desk, deactivate)
            await snap(desk, "organizations-3-created.png")

            organization_id = await db.fetchval("SELECT id FROM organizations WHERE name = $1", name)
            created = await http.get(f"/v1/organizations/{organization_id}", headers=admin.headers)
            assert created.status_code == 200, created.text
            assert created.json()["kind"] == "nursery"
            assert created.json()["municipalityId"] == 1
            assert created.json()["active"] is True

            # A typo in the name, put right in its row.
            await desk.get_by_role("button", name=f"名前を変更: {name}").click()
            renamed = f"みらい保育園 {tag} 分園"
            await type_into(desk, "新しい名前", renamed)
            await tap_until_gone(desk.get_by_role("button", name=f"保存: {name}"))
            await expect(desk.get_by_text("名前を変更しました")).to_be_visible(timeout=30_000)
            name = renamed
            await expect(desk.get_by_text(name, exact=True)).to_be_visible()
            got = await http.get(f"/v1/organizations/{organization_id}", headers=admin.headers)
            assert got.json()["name"] == name
            deactivate = desk.get_by_role("button", name=f"無効にする: {name}")

            await tap_until(deactivate, desk.get_by_text(f"「{name}」を無効にしますか?"))
            await expect(desk.get_by_text("ただちにこの組織での権限を失います", exact=False)).to_be_visible()
            await type_into(desk, "無効にする理由", reason)
            await snap(desk, "organizations-4-deactivation-dialog.png")
            await tap_until_gone(desk.get_by_role("button", name="無効にする", exact=True))
            reactivate = desk.get_by_role("button", name=f"有効に戻す: {name}")
            await expect(reactivate).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text(f"無効にする理由: {reason}")).to_be_visible()
            await reveal(desk, reactivate)
            await snap(desk, "organizations-5-deactivated.png")

            deactivated = (await http.get(f"/v1/organizations/{organization_id}", headers=admin.headers)).json()
            assert deactivated["active"] is False
            assert deactivated["deactivationReason"] == reason

            await tap_until_gone(reactivate)
            await expect(desk.get_by_role("button", name=f"無効にする: {name}")).to_be_visible(timeout=30_000)
            assert (await http.get(f"/v1/organizations/{organization_id}", headers=admin.headers)).json()["active"]

            members = desk.get_by_role("button", name=f"メンバー: {name}")
            await reveal(desk, members)
            await tap_until_gone(members)
            await expect(desk.get_by_text(f"メンバー: {name}", exact=True)).to_be_visible(timeout=30_000)
            await expect(desk.get_by_role("button", name="組織の一覧に戻る")).to_be_visible()
            await type_into(desk, "メールアドレス", f"nurse.{tag}@example.jp")
            await desk.get_by_role("button", name="招待する").click()
            revoke = desk.get_by_role("button", name=f"招待を取消: nurse.{tag}@example.jp")
            await expect(revoke).to_be_visible(timeout=30_000)
            await expect(desk.get_by_text(f"nurse.{tag}@example.jp · 職員", exact=False)).to_be_visible()
            await snap(desk, "organizations-6-nursery-invitation.png")

            await tap_until(
                desk.get_by_role("button", name="組織の一覧に戻る"), desk.get_by_text("組織の一覧", exact=True)
            )
        finally:
            await browser.close()

    invitations = await http.get(f"/v1/organizations/{organization_id}/invitations", headers=admin.headers)
    assert invitations.status_code == 200, invitations.text
    assert [(i["email"], i["role"]) for i in invitations.json()] == [(f"nurse.{tag}@example.jp", "staff")]
