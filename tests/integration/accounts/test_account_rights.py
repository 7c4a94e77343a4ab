"""Profile, sessions, export and deletion: what a person may do with their own account."""

from __future__ import annotations

import json

import asyncpg
import httpx

from tests.support import PASSWORD, Actors, assert_problem


async def test_profile_changes_name_language_and_notices_per_channel(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident()
    body = {"displayName": "山田 花子", "locale": "en", "notifications": {"email": {"waitlist_offer": False}}}
    updated = await http.patch("/v1/me", json=body, headers=person.headers)
    assert updated.status_code == 200, updated.text
    me = updated.json()
    assert (me["displayName"], me["locale"]) == ("山田 花子", "en")
    assert me["notifications"] == {"push": {}, "email": {"waitlist_offer": False}}
    # Only the kinds named change.
    more = {"notifications": {"email": {"lottery_result": False}, "push": {"waitlist_offer": False}}}
    me = (await http.patch("/v1/me", json=more, headers=person.headers)).json()
    assert me["notifications"] == {
        "push": {"waitlist_offer": False},
        "email": {"waitlist_offer": False, "lottery_result": False},
    }
    assert me["displayName"] == "山田 花子"
    bad = await http.patch("/v1/me", json={"notifications": {"sms": {}}}, headers=person.headers)
    assert_problem(bad, 422)
    bad = await http.patch("/v1/me", json={"notifications": {"email": {"ads": True}}}, headers=person.headers)
    assert_problem(bad, 422)


async def test_sessions_are_listed_and_revoked_one_or_all_others(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident()
    phone = await http.post(
        "/v1/sessions", json={"email": person.email, "password": PASSWORD}, headers={"User-Agent": "MusubiPhone/1.0"}
    )
    phone_headers = {"Authorization": f"Bearer {phone.json()['token']}"}
    tablet = await actors.login(person.email, person.account_id)
    listed = (await http.get("/v1/me/sessions", headers=person.headers)).json()
    assert len(listed) == 3
    assert [s["current"] for s in listed] == [True, False, False]
    assert listed[1]["device"] == "MusubiPhone/1.0"
    assert all(s["lastUsedAt"] for s in listed[:1])

    assert (await http.delete(f"/v1/me/sessions/{listed[1]['id']}", headers=person.headers)).status_code == 204
    assert_problem(await http.get("/v1/me", headers=phone_headers), 401)
    other = await actors.resident()
    assert_problem(await http.delete(f"/v1/me/sessions/{listed[2]['id']}", headers=other.headers), 404)

    assert (await http.delete("/v1/me/sessions", headers=person.headers)).status_code == 204
    assert_problem(await http.get("/v1/me", headers=tablet.headers), 401)
    assert [s["current"] for s in (await http.get("/v1/me/sessions", headers=person.headers)).json()] == [True]


async def test_export_holds_the_account_and_its_rows(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident()
    child = await http.post(
        "/v1/children",
        json={"name": "山田 太郎", "birthDate": "2022-04-01", "allergies": ["egg"], "notes": "inhaler"},
        headers=person.headers,
    )
    assert child.status_code == 201, child.text
    exported = await http.get("/v1/me/export", headers=person.headers)
    assert exported.status_code == 200
    data = exported.json()
    assert data["account"]["email"] == person.email
    assert [c["name"] for c in data["records"]["children"]] == ["山田 太郎"]
    assert len(data["records"]["sessions"]) == 1
    assert "token_hash" not in json.dumps(data["records"]["sessions"])
    assert {m["kind"] for m in data["records"]["mail"]} == {"verify_email"}


async def test_deleting_the_account_ends_sessions_and_erases_personal_fields(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person = await actors.resident("leaving@example.jp")
    await http.post(
        "/v1/children",
        json={"name": "山田 太郎", "birthDate": "2022-04-01", "allergies": ["egg"], "notes": "inhaler"},
        headers=person.headers,
    )
    assert (await http.delete("/v1/me", headers=person.headers)).status_code == 204
    assert_problem(await http.get("/v1/me", headers=person.headers), 401)
    assert_problem(await http.post("/v1/sessions", json={"email": person.email, "password": PASSWORD}), 401)
    row = await db.fetchrow("SELECT email, display_name, deleted_at FROM accounts WHERE id = $1", person.account_id)
    assert row["deleted_at"] is not None
    assert "leaving" not in row["email"]
    assert row["display_name"] == ""
    child = await db.fetchrow("SELECT name, notes, allergies FROM children WHERE parent_id = $1", person.account_id)
    assert (child["name"], child["notes"], child["allergies"]) == ("", "", [])
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'account.erased'") == 1
    # The address is free for a new sign-up.
    again = await http.post("/v1/accounts", json={"email": person.email, "password": PASSWORD, "displayName": "N"})
    assert again.status_code == 201


async def test_the_only_admin_is_told_what_blocks_deletion(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital", name="水戸中央病院")
    admin = await actors.member("hospital", "admin", hospital)
    problem = assert_problem(await http.delete("/v1/me", headers=admin.headers), 409, "deletion-blocked")
    assert "水戸中央病院" in problem["errors"][0]["message"]
    assert (await http.get("/v1/me", headers=admin.headers)).status_code == 200
    second = await actors.member("hospital", "admin", hospital)
    assert (await http.delete("/v1/me", headers=admin.headers)).status_code == 204
    assert (await http.get("/v1/me", headers=second.headers)).status_code == 200
