"""Changing, resetting by mail, and the minimum strength of passwords."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import httpx
import pytest

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.mail.sink import text_of
from tests.smtp_sink import SmtpServer
from tests.support import PASSWORD, Actors, assert_problem, token_in

NEW_PASSWORD = "a quieter library at dawn"


async def _login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/v1/sessions", json={"email": email, "password": password})


async def test_change_needs_the_current_password_and_ends_the_other_sessions(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    phone = await actors.login(person.email, person.account_id)
    wrong = {"current": "not the password", "new": NEW_PASSWORD}
    assert_problem(await http.post("/v1/me/password", json=wrong, headers=person.headers), 403, "wrong-password")
    assert (await http.get("/v1/me", headers=phone.headers)).status_code == 200

    body = {"current": PASSWORD, "new": NEW_PASSWORD}
    changed = await http.post("/v1/me/password", json=body, headers=person.headers)
    assert changed.status_code == 204, changed.text
    assert_problem(await http.get("/v1/me", headers=phone.headers), 401)  # the other session ended
    assert (await http.get("/v1/me", headers=person.headers)).status_code == 200  # this one goes on
    assert_problem(await _login(http, person.email, PASSWORD), 401)
    assert (await _login(http, person.email, NEW_PASSWORD)).status_code == 201
    # The phone's live sockets are closed too, and the owner is told by mail.
    [ended] = await db.fetch("SELECT id FROM sessions WHERE revoked_at IS NOT NULL")
    revoked = await db.fetch("SELECT payload FROM outbox WHERE type = 'realtime.access_revoked'")
    assert [(p["accountId"], p["sessionId"]) for p in (json.loads(r["payload"]) for r in revoked)] == [
        (person.account_id, ended["id"])
    ]
    kinds = await db.fetch("SELECT kind FROM email_outbox WHERE account_id = $1 ORDER BY id", person.account_id)
    assert [k["kind"] for k in kinds][-1] == "password_changed"


@pytest.mark.parametrize("weak", ["password123", "Qwerty 1234", "1234567890", "aaaaaaaaaaaa", "short"])
async def test_weak_passwords_are_refused_everywhere(
    http: httpx.AsyncClient, actors: Actors, weak: str, db: asyncpg.Pool
) -> None:
    created = await http.post("/v1/accounts", json={"email": "w@example.jp", "password": weak, "displayName": "W"})
    problem = assert_problem(created, 422)
    assert problem["errors"][0]["field"] == "$.password"
    person = await actors.resident()
    changed = await http.post("/v1/me/password", json={"current": PASSWORD, "new": weak}, headers=person.headers)
    assert assert_problem(changed, 422)["errors"][0]["field"] == "$.new"
    assert (await _login(http, person.email, PASSWORD)).status_code == 201


async def test_the_email_address_is_not_a_password(http: httpx.AsyncClient) -> None:
    body = {"email": "yamada.hanako@example.jp", "password": "yamada.hanako@example.jp", "displayName": "Y"}
    assert_problem(await http.post("/v1/accounts", json=body), 422, "weak-password")


async def test_reset_by_mail_sets_a_new_password_once_and_ends_every_session(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer
) -> None:
    person = await actors.resident("forgetful@example.jp")
    asked = await http.post("/v1/password-resets", json={"email": "Forgetful@example.jp"})
    assert asked.status_code == 202
    link = await smtp.link_to(ctx, "forgetful@example.jp", path="/reset-password")
    assert link.startswith(f"{ctx.settings.public_base_url}/reset-password?token=")
    token = token_in(link)
    page = await http.get(link.removeprefix(ctx.settings.public_base_url))
    assert 'type="password"' in page.text

    reset = await http.post(f"/v1/password-resets/{token}", json={"password": NEW_PASSWORD})
    assert reset.status_code == 200, reset.text
    assert_problem(await http.get("/v1/me", headers=person.headers), 401)
    assert (await _login(http, person.email, NEW_PASSWORD)).status_code == 201
    assert_problem(await http.post(f"/v1/password-resets/{token}", json={"password": "yet another phrase"}), 400)
    subjects = [m["Subject"] for m in await smtp.deliver(ctx)]
    assert subjects == ["【Musubi】パスワードが変更されました"]


async def test_reset_form_page_sets_the_password(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer
) -> None:
    person = await actors.resident()
    await http.post("/v1/password-resets", json={"email": person.email})
    token = token_in(await smtp.link_to(ctx, person.email, path="/reset-password"))
    weak = await http.post("/reset-password", data={"token": token, "password": "password123"})
    assert weak.status_code == 400
    done = await http.post("/reset-password", data={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200
    assert (await _login(http, person.email, NEW_PASSWORD)).status_code == 201


async def test_reset_answers_the_same_whether_the_address_exists(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    known = await http.post("/v1/password-resets", json={"email": person.email})
    unknown = await http.post("/v1/password-resets", json={"email": "nobody@example.jp"})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert await db.fetchval("SELECT count(*) FROM email_outbox WHERE to_address = 'nobody@example.jp'") == 0
    assert await db.fetchval("SELECT count(*) FROM email_outbox WHERE kind = 'reset_password'") == 1


async def test_reset_link_works_for_30_minutes(http: httpx.AsyncClient, actors: Actors, clock: MovableClock) -> None:
    person = await actors.resident()
    await http.post("/v1/password-resets", json={"email": person.email})
    token = await actors.mailed_token(person.account_id, "reset_password")
    clock.advance(timedelta(minutes=31))
    response = await http.post(f"/v1/password-resets/{token}", json={"password": NEW_PASSWORD})
    assert_problem(response, 400, "link-invalid")


async def test_reset_requests_are_throttled_per_address_and_per_client(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    for _ in range(ctx.settings.password_reset_max_per_account):
        assert (await http.post("/v1/password-resets", json={"email": person.email})).status_code == 202
    response = await http.post("/v1/password-resets", json={"email": person.email.upper()})
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) > 0
    assert await db.fetchval("SELECT count(*) FROM email_outbox WHERE kind = 'reset_password'") == 3
    # Another address from the same client, until the client's own limit.
    left = ctx.settings.password_reset_max_per_address - ctx.settings.password_reset_max_per_account
    for n in range(left):
        assert (await http.post("/v1/password-resets", json={"email": f"x{n}@example.jp"})).status_code == 202
    assert_problem(await http.post("/v1/password-resets", json={"email": "fresh@example.jp"}), 429)


async def test_the_owner_of_a_squatted_address_takes_it_back_by_reset(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer
) -> None:
    """Someone registered the new hire's address first; the hire resets the password by mail."""
    created = await http.post(
        "/v1/accounts", json={"email": "hire@example.jp", "password": PASSWORD, "displayName": "Squatter"}
    )
    squatter = await actors.login("hire@example.jp", created.json()["id"])
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    await http.post(
        f"/v1/organizations/{hospital}/invitations", json={"email": "hire@example.jp", "role": "er_staff"},
        headers=admin.headers,
    )  # fmt: skip
    await http.post("/v1/password-resets", json={"email": "hire@example.jp"})
    await smtp.deliver(ctx)
    mails = {m["Subject"]: text_of(m) for m in smtp.sink.messages if m["To"] == "hire@example.jp"}
    reset = token_in(mails["【Musubi】パスワードの再設定"])
    invitation = next(token_in(text) for subject, text in mails.items() if "招待" in subject)
    assert (await http.post(f"/v1/password-resets/{reset}", json={"password": NEW_PASSWORD})).status_code == 200
    assert_problem(await http.get("/v1/me", headers=squatter.headers), 401)
    hire = await http.post("/v1/sessions", json={"email": "hire@example.jp", "password": NEW_PASSWORD})
    headers = {"Authorization": f"Bearer {hire.json()['token']}"}
    assert hire.json()["account"]["emailVerified"] is True  # following the link proved the address
    accepted = await http.post(f"/v1/invitations/{invitation}/accept", headers=headers)
    assert accepted.status_code == 201, accepted.text
