"""Roles are offered by a mailed, single-use invitation and taken only by the verified owner of the address."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import httpx

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from tests.smtp_sink import SmtpServer
from tests.support import PASSWORD, Actor, Actors, assert_problem


async def _invite(http: httpx.AsyncClient, admin: Actor, organization_id: int, email: str, role: str) -> int:
    response = await http.post(
        f"/v1/organizations/{organization_id}/invitations", json={"email": email, "role": role}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    invitation_id: int = response.json()["id"]
    return invitation_id


async def _memberships(http: httpx.AsyncClient, person: Actor) -> list[dict[str, object]]:
    memberships: list[dict[str, object]] = (await http.get("/v1/me", headers=person.headers)).json()["memberships"]
    return memberships


async def test_invitee_follows_the_mailed_link_and_takes_the_role(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital", name="水戸中央病院")
    admin = await actors.member("hospital", "admin", hospital)
    nurse = await actors.resident("nurse@example.jp")
    await _invite(http, admin, hospital, "Nurse@Example.jp", "er_staff")
    assert await _memberships(http, nurse) == []  # inviting grants nothing

    link = await smtp.link_to(ctx, "Nurse@Example.jp", path="/invitations")
    [message] = [m for m in smtp.sink.messages if m["To"] == "Nurse@Example.jp"]
    assert message["Subject"] == "【Musubi】水戸中央病院 への招待"
    assert link.startswith(f"{ctx.settings.public_base_url}/invitations?token=")
    token = link.rpartition("=")[2]
    page = await http.get(f"/invitations?token={token}")
    assert token in page.text

    accepted = await http.post(f"/v1/invitations/{token}/accept", headers=nurse.headers)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"organizationId": hospital, "organizationKind": "hospital", "role": "er_staff"}
    assert await _memberships(http, nurse) == [accepted.json()]
    audit = await db.fetchrow("SELECT * FROM audit WHERE action = 'membership.grant'")
    assert audit["actor_account_id"] == nurse.account_id
    assert "by invitation" in audit["reason"]
    event = await db.fetchrow("SELECT topic, payload FROM outbox WHERE type = 'account.membership_granted'")
    assert event["topic"] == f"user:{nurse.account_id}"
    assert json.loads(event["payload"])["organizationId"] == hospital
    # Single use, and no longer pending.
    assert_problem(await http.post(f"/v1/invitations/{token}/accept", headers=nurse.headers), 404)
    assert (await http.get(f"/v1/organizations/{hospital}/invitations", headers=admin.headers)).json() == []


async def test_registering_the_address_first_gets_the_attacker_nothing(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    # The attacker signs up with the new hire's address before the hire does; without the
    # mailbox the address stays unverified.
    created = await http.post(
        "/v1/accounts", json={"email": "newhire@hospital.example.jp", "password": PASSWORD, "displayName": "X"}
    )
    attacker = await actors.login("newhire@hospital.example.jp", created.json()["id"])
    await _invite(http, admin, hospital, "newhire@hospital.example.jp", "er_staff")
    assert await _memberships(http, attacker) == []
    # Even holding the link (the worst case), an unverified account cannot take the role.
    token = await actors.invitation_token("newhire@hospital.example.jp")
    response = await http.post(f"/v1/invitations/{token}/accept", headers=attacker.headers)
    assert_problem(response, 403, "email-not-verified")
    assert await _memberships(http, attacker) == []
    assert await db.fetchval("SELECT count(*) FROM memberships WHERE account_id = $1", attacker.account_id) == 0


async def test_invitation_for_another_address_is_refused(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    someone_else = await actors.resident()
    await _invite(http, admin, hospital, "invitee@example.jp", "admin")
    token = await actors.invitation_token("invitee@example.jp")
    response = await http.post(f"/v1/invitations/{token}/accept", headers=someone_else.headers)
    assert_problem(response, 403, "invitation-for-another-address")
    assert await _memberships(http, someone_else) == []


async def test_admin_lists_and_revokes_pending_invitations(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    shelter = await actors.organization("shelter")
    admin = await actors.prefecture_admin()
    invitee = await actors.resident("a@example.jp")
    first = await _invite(http, admin, shelter, "a@example.jp", "staff")
    await _invite(http, admin, shelter, "b@example.jp", "staff")
    listed = (await http.get(f"/v1/organizations/{shelter}/invitations", headers=admin.headers)).json()
    assert [(i["email"], i["role"], i["invitedBy"]) for i in listed] == [
        ("a@example.jp", "staff", admin.account_id),
        ("b@example.jp", "staff", admin.account_id),
    ]
    token = await actors.invitation_token("a@example.jp")
    url = f"/v1/organizations/{shelter}/invitations/{first}"
    assert (await http.delete(url, headers=admin.headers)).status_code == 204
    assert_problem(await http.delete(url, headers=admin.headers), 404)
    listed = (await http.get(f"/v1/organizations/{shelter}/invitations", headers=admin.headers)).json()
    assert [i["email"] for i in listed] == ["b@example.jp"]
    assert_problem(await http.post(f"/v1/invitations/{token}/accept", headers=invitee.headers), 404)


async def test_inviting_again_replaces_the_earlier_link(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    fire = await actors.organization("fire_department")
    admin = await actors.member("fire_department", "admin", fire)
    medic = await actors.resident("medic@example.jp")
    await _invite(http, admin, fire, "medic@example.jp", "paramedic")
    old = await actors.invitation_token("medic@example.jp")
    await _invite(http, admin, fire, "medic@example.jp", "paramedic")
    new = await actors.invitation_token("medic@example.jp")
    assert_problem(await http.post(f"/v1/invitations/{old}/accept", headers=medic.headers), 404)
    assert (await http.post(f"/v1/invitations/{new}/accept", headers=medic.headers)).status_code == 201
    # Already holding the role: a second invitation cannot grant it twice.
    await _invite(http, admin, fire, "medic@example.jp", "paramedic")
    again = await actors.invitation_token("medic@example.jp")
    assert_problem(await http.post(f"/v1/invitations/{again}/accept", headers=medic.headers), 409, "already-member")


async def test_invitation_expires(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, ctx: AppContext, clock: MovableClock
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    await _invite(http, admin, hospital, "slow@example.jp", "staff")
    token = await actors.invitation_token("slow@example.jp")
    clock.advance(timedelta(days=ctx.settings.invitation_days, minutes=1))
    slow = await actors.resident("slow@example.jp")
    assert_problem(await http.post(f"/v1/invitations/{token}/accept", headers=slow.headers), 404)
    admin = await actors.login(admin.email, admin.account_id)  # the earlier session has expired too
    assert (await http.get(f"/v1/organizations/{hospital}/invitations", headers=admin.headers)).json() == []


async def test_only_the_organisations_admins_invite(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    staff = await actors.member("hospital", "er_staff", hospital)
    other_admin = await actors.member("hospital", "admin")
    body = {"email": "x@example.jp", "role": "admin"}
    url = f"/v1/organizations/{hospital}/invitations"
    assert_problem(await http.post(url, json=body, headers=staff.headers), 403)
    assert_problem(await http.post(url, json=body, headers=other_admin.headers), 404)
    assert_problem(await http.get(url, headers=other_admin.headers), 404)
    admin = await actors.prefecture_admin()
    assert_problem(await http.post("/v1/organizations/999999/invitations", json=body, headers=admin.headers), 404)


async def test_roles_can_no_longer_be_granted_by_typing_an_address(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    person = await actors.resident()
    response = await http.post(
        f"/v1/organizations/{hospital}/members", json={"email": person.email, "role": "er_staff"}, headers=admin.headers
    )
    assert response.status_code in (404, 405)
    assert await _memberships(http, person) == []
