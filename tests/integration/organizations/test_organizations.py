"""Organisations and people: list, view, edit, deactivate; members; the audit log viewer."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from realtime.gateway import CLOSE_ACCESS_REVOKED
from tests.cluster import Realtime
from tests.integration.realtime.test_ticket_privacy import close_code, welcomed
from tests.realtime_client import open_socket, ticket_for
from tests.support import Actor, Actors, assert_problem, table_counts


async def org_with_admin(actors: Actors, kind: str = "hospital", municipality_id: int = 1) -> tuple[int, Actor]:
    org = await actors.organization(kind, municipality_id=municipality_id)
    return org, await actors.member(kind, "admin", org)


# -- organisations ------------------------------------------------------------------------------


async def test_prefecture_admin_lists_organisations_by_kind_and_municipality_with_pages(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    admin = await actors.prefecture_admin()
    hospitals = [await actors.organization("hospital", municipality_id=16) for _ in range(3)]
    await actors.organization("shelter", municipality_id=16)
    await actors.organization("hospital", municipality_id=2)
    url = "/v1/organizations?kind=hospital&municipalityId=16&limit=2"
    first = await http.get(url, headers=admin.headers)
    assert first.status_code == 200, first.text
    assert [o["id"] for o in first.json()] == hospitals[:2]
    assert first.json()[0]["active"] is True
    next_url = first.headers["link"].split(";")[0].strip("<>")
    second = await http.get(next_url, headers=admin.headers)
    assert [o["id"] for o in second.json()] == hospitals[2:]
    assert "link" not in second.headers


async def test_organisation_admin_sees_only_their_own_organisation(http: httpx.AsyncClient, actors: Actors) -> None:
    own, admin = await org_with_admin(actors)
    other = await actors.organization("hospital")
    listed = await http.get("/v1/organizations", headers=admin.headers)
    assert [o["id"] for o in listed.json()] == [own]
    assert (await http.get(f"/v1/organizations/{own}", headers=admin.headers)).json()["id"] == own
    assert_problem(await http.get(f"/v1/organizations/{other}", headers=admin.headers), 404)
    assert_problem(await http.patch(f"/v1/organizations/{other}", json={"name": "X"}, headers=admin.headers), 404)


async def test_admin_edits_name_address_and_coordinates_audited_with_an_event(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    org, admin = await org_with_admin(actors)
    body = {"name": "水戸中央病院 new wing", "address": "水戸市三の丸1-1", "lat": 36.37, "lon": 140.47}
    response = await http.patch(f"/v1/organizations/{org}", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in body} == body
    assert response.json()["municipalityId"] == 1
    # Only what is sent changes; null clears.
    cleared = await http.patch(f"/v1/organizations/{org}", json={"lat": None, "lon": None}, headers=admin.headers)
    assert cleared.json()["address"] == "水戸市三の丸1-1"
    assert (cleared.json()["lat"], cleared.json()["lon"]) == (None, None)
    audit = await db.fetch(
        "SELECT actor_account_id, reason FROM audit WHERE action = 'organization.update' ORDER BY id"
    )
    assert [a["actor_account_id"] for a in audit] == [admin.account_id] * 2
    assert audit[0]["reason"] == "changed: address, lat, lon, name"
    events = await db.fetch("SELECT topic, type FROM outbox WHERE type = 'organization.changed'")
    assert {e["topic"] for e in events} == {f"hospital:{org}"}


async def test_bad_edits_get_4xx_and_change_nothing(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    org, admin = await org_with_admin(actors)
    prefecture = await actors.prefecture_admin()
    before = await table_counts(db)
    url = f"/v1/organizations/{org}"
    problem = assert_problem(await http.patch(url, json={"lat": 36.0}, headers=admin.headers), 422)
    assert problem["errors"][0]["field"] == "$.lon"
    assert_problem(await http.patch(url, json={"name": ""}, headers=admin.headers), 422)
    # The municipality decides residents' fees: only the prefecture moves an organisation.
    problem = assert_problem(await http.patch(url, json={"municipalityId": 2}, headers=admin.headers), 403)
    assert problem["errors"][0]["field"] == "$.municipalityId"
    assert_problem(await http.patch(url, json={"municipalityId": 99}, headers=prefecture.headers), 422)
    assert await table_counts(db) == before
    moved = await http.patch(url, json={"municipalityId": 2}, headers=prefecture.headers)
    assert moved.json()["municipalityId"] == 2


async def test_patch_honours_idempotency_key(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    org, admin = await org_with_admin(actors)
    headers = {**admin.headers, "Idempotency-Key": "rename-1"}
    first = await http.patch(f"/v1/organizations/{org}", json={"name": "A"}, headers=headers)
    again = await http.patch(f"/v1/organizations/{org}", json={"name": "A"}, headers=headers)
    assert again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'organization.update'") == 1
    assert_problem(await http.patch(f"/v1/organizations/{org}", json={"name": "B"}, headers=headers), 422)


async def test_deactivation_ends_members_access_at_once_and_closes_their_sockets(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital")
    nurse = await actors.member("hospital", "er_staff", hospital)
    ws = await open_socket(realtime.url, await ticket_for(http, nurse))
    assert f"hospital:{hospital}" in (await welcomed(ws))["topics"]
    assert (await http.get("/v1/ems/inbox", headers=nurse.headers)).status_code == 200
    prefecture = await actors.prefecture_admin()

    response = await http.post(
        f"/v1/organizations/{hospital}/deactivate", json={"reason": "merged into another hospital"},
        headers=prefecture.headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert await close_code(ws) == CLOSE_ACCESS_REVOKED
    # The same token, next request: the role is gone, the account is still there.
    assert_problem(await http.get("/v1/ems/inbox", headers=nurse.headers), 403)
    assert (await http.get("/v1/me", headers=nurse.headers)).json()["memberships"] == []
    assert (await http.post("/v1/realtime/tickets", headers=nurse.headers)).json()["topics"] == [
        f"user:{nurse.account_id}"
    ]
    assert_problem(
        await http.post(f"/v1/organizations/{hospital}/deactivate", json={"reason": "x"}, headers=prefecture.headers),
        409,
        "already-deactivated",
    )
    assert await db.fetchval("SELECT reason FROM audit WHERE action = 'organization.deactivate'") == (
        "merged into another hospital"
    )
    reactivated = await http.post(f"/v1/organizations/{hospital}/reactivate", headers=prefecture.headers)
    assert reactivated.json()["active"] is True
    assert (await http.get("/v1/ems/inbox", headers=nurse.headers)).status_code == 200


async def test_deactivation_needs_the_prefecture_and_a_reason(http: httpx.AsyncClient, actors: Actors) -> None:
    org, admin = await org_with_admin(actors)
    assert_problem(
        await http.post(f"/v1/organizations/{org}/deactivate", json={"reason": "x"}, headers=admin.headers), 403
    )
    prefecture = await actors.prefecture_admin()
    assert_problem(await http.post(f"/v1/organizations/{org}/deactivate", json={}, headers=prefecture.headers), 422)
    own = (await http.get("/v1/me", headers=prefecture.headers)).json()["memberships"][0]["organizationId"]
    assert_problem(
        await http.post(f"/v1/organizations/{own}/deactivate", json={"reason": "x"}, headers=prefecture.headers),
        409,
        "cannot-deactivate-prefecture",
    )


# -- members ----------------------------------------------------------------------------------


async def test_admin_lists_members_with_roles_and_changes_a_role(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    org, admin = await org_with_admin(actors)
    nurse = await actors.member("hospital", "er_staff", org)
    await actors.grant(nurse, org, "staff")
    listed = await http.get(f"/v1/organizations/{org}/members", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    assert [(m["accountId"], m["roles"]) for m in listed.json()] == [
        (admin.account_id, ["admin"]),
        (nurse.account_id, ["er_staff", "staff"]),
    ]
    changed = await http.patch(
        f"/v1/organizations/{org}/members/{nurse.account_id}", json={"role": "admin"}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["admin"]
    me = (await http.get("/v1/me", headers=nurse.headers)).json()
    assert me["memberships"] == [{"organizationId": org, "organizationKind": "hospital", "role": "admin"}]
    past = await db.fetch("SELECT role FROM past_memberships WHERE account_id = $1 ORDER BY role", nurse.account_id)
    assert [p["role"] for p in past] == ["er_staff", "staff"]
    event = await db.fetchrow("SELECT payload FROM outbox WHERE topic = $1", f"user:{nurse.account_id}")
    assert json.loads(event["payload"]) == {
        "type": "account.membership_changed", "organizationId": org, "role": "admin"
    }  # fmt: skip


async def test_a_removed_members_token_and_socket_stop_working_at_once(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    org, admin = await org_with_admin(actors)
    nurse = await actors.member("hospital", "er_staff", org)
    ws = await open_socket(realtime.url, await ticket_for(http, nurse))
    await welcomed(ws)
    assert (await http.get("/v1/ems/inbox", headers=nurse.headers)).status_code == 200

    started = asyncio.get_running_loop().time()
    removed = await http.delete(f"/v1/organizations/{org}/members/{nurse.account_id}", headers=admin.headers)
    assert removed.status_code == 204, removed.text
    assert_problem(await http.get("/v1/ems/inbox", headers=nurse.headers), 403)
    assert await close_code(ws) == CLOSE_ACCESS_REVOKED
    assert asyncio.get_running_loop().time() - started < 5.0
    assert_problem(await http.delete(f"/v1/organizations/{org}/members/{nurse.account_id}", headers=admin.headers), 404)
    audit = await db.fetchrow("SELECT * FROM audit WHERE action = 'membership.remove'")
    assert (audit["actor_account_id"], audit["subject_type"], audit["subject_id"]) == (
        admin.account_id, "organization", str(org)
    )  # fmt: skip


async def test_the_last_admin_cannot_leave_but_the_prefecture_can_remove_them(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    org, admin = await org_with_admin(actors)
    url = f"/v1/organizations/{org}/members/{admin.account_id}"
    assert_problem(await http.delete(url, headers=admin.headers), 409, "last-admin")
    assert_problem(await http.patch(url, json={"role": "staff"}, headers=admin.headers), 409, "last-admin")
    prefecture = await actors.prefecture_admin()
    assert (await http.delete(url, headers=prefecture.headers)).status_code == 204


async def test_members_of_another_organisation_are_out_of_reach(http: httpx.AsyncClient, actors: Actors) -> None:
    org, admin = await org_with_admin(actors)
    other, _ = await org_with_admin(actors)
    stranger = await actors.member("hospital", "er_staff", other)
    assert_problem(await http.get(f"/v1/organizations/{other}/members", headers=admin.headers), 404)
    assert_problem(
        await http.delete(f"/v1/organizations/{other}/members/{stranger.account_id}", headers=admin.headers), 404
    )
    # Not a member here: 404 too.
    assert_problem(
        await http.delete(f"/v1/organizations/{org}/members/{stranger.account_id}", headers=admin.headers), 404
    )
    nurse = await actors.member("hospital", "er_staff", org)
    assert_problem(await http.get(f"/v1/organizations/{org}/members", headers=nurse.headers), 403)


# -- audit log --------------------------------------------------------------------------------


async def audit_row(db: asyncpg.Pool, actor: int, subject: str, at: datetime, reason: str = "test") -> None:
    await db.execute(
        "INSERT INTO audit (actor_account_id, action, subject_type, subject_id, reason, at)"
        " VALUES ($1, 'ems.case.read', 'ems_case', $2, $3, $4)",
        actor,
        subject,
        reason,
        at,
    )


async def test_organisation_admin_reads_what_their_staff_read_even_after_they_left(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    org, admin = await org_with_admin(actors)
    nurse = await actors.member("hospital", "er_staff", org)
    outsider = await actors.member("hospital", "er_staff")
    now = datetime.now(UTC)
    await db.execute("UPDATE memberships SET created_at = $1", now - timedelta(hours=1))
    await audit_row(db, nurse.account_id, "1", now - timedelta(minutes=3))
    await audit_row(db, outsider.account_id, "2", now - timedelta(minutes=2))
    assert (await http.delete(f"/v1/organizations/{org}/members/{nurse.account_id}", headers=admin.headers)).is_success
    await asyncio.sleep(0.01)
    await audit_row(db, nurse.account_id, "3", datetime.now(UTC))  # no longer staff here: not this admin's business

    response = await http.get("/v1/audit?subjectType=ems_case", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert [(e["actorAccountId"], e["subjectId"]) for e in response.json()] == [(nurse.account_id, "1")]
    assert response.json()[0]["actorEmail"] == nurse.email
    # The prefecture sees every row; filters narrow it.
    prefecture = await actors.prefecture_admin()
    everything = await http.get("/v1/audit?subjectType=ems_case", headers=prefecture.headers)
    assert [e["subjectId"] for e in everything.json()] == ["3", "2", "1"]
    by_actor = await http.get(f"/v1/audit?actor={outsider.account_id}", headers=prefecture.headers)
    assert [e["subjectId"] for e in by_actor.json()] == ["2"]
    since = (now - timedelta(minutes=2, seconds=30)).isoformat()
    window = await http.get("/v1/audit", params={"subjectType": "ems_case", "from": since}, headers=prefecture.headers)
    assert [e["subjectId"] for e in window.json()] == ["3", "2"]
    # Reading the log is itself on record.
    assert await db.fetchval("SELECT count(*) FROM audit WHERE action = 'audit.read'") == 4


async def test_audit_log_pages_and_exports_csv_with_bom(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    prefecture = await actors.prefecture_admin()
    nurse = await actors.member("hospital", "er_staff")
    now = datetime.now(UTC) - timedelta(hours=1)
    for n in range(5):
        await audit_row(db, nurse.account_id, str(n), now + timedelta(seconds=n), reason='=HYPERLINK("x") 読んだ')
    first = await http.get("/v1/audit?subjectType=ems_case&limit=2", headers=prefecture.headers)
    assert [e["subjectId"] for e in first.json()] == ["4", "3"]
    rest = await http.get(first.headers["link"].split(";")[0].strip("<>"), headers=prefecture.headers)
    assert [e["subjectId"] for e in rest.json()] == ["2", "1"]

    for request in (
        http.get("/v1/audit?subjectType=ems_case", headers={**prefecture.headers, "Accept": "text/csv"}),
        http.get("/v1/audit?subjectType=ems_case&format=csv", headers=prefecture.headers),
    ):
        exported = await request
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["id", "at", "actorAccountId"]
        assert [r[7] for r in rows[1:]] == ["4", "3", "2", "1", "0"]
        assert rows[1][8] == '\'=HYPERLINK("x") 読んだ'  # never a formula in Excel
    assert_problem(await http.get("/v1/audit?limit=500", headers=prefecture.headers), 400)
    assert_problem(await http.get("/v1/audit?format=xml", headers=prefecture.headers), 400)
