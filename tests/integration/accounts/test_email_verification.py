"""A new account proves its address by a mailed, single-use, expiring link before it books."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from backend.core.auth import hash_token
from backend.core.clock import MovableClock
from backend.core.context import AppContext
from tests.smtp_sink import SmtpServer
from tests.support import PASSWORD, Actor, Actors, assert_problem, token_in


async def _sign_up(http: httpx.AsyncClient, actors: Actors, email: str, locale: str = "ja") -> Actor:
    created = await http.post(
        "/v1/accounts", json={"email": email, "password": PASSWORD, "displayName": "New", "locale": locale}
    )
    assert created.status_code == 201, created.text
    assert created.json()["emailVerified"] is False
    return await actors.login(email, created.json()["id"])


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_sign_up_mails_a_link_whose_page_verifies_the_account_once(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    person = await _sign_up(http, actors, "hanako@example.jp", locale="en")
    link = await smtp.link_to(ctx, "hanako@example.jp", path="/verify")
    assert link.startswith(f"{ctx.settings.public_base_url}/verify?token=")
    [message] = smtp.sink.messages
    assert message["Subject"] == "[Musubi] Confirm your e-mail address"
    # Only the hash is stored: the table holds nothing that opens the link.
    token = _token(link)
    stored = await db.fetchval("SELECT token_hash FROM account_tokens WHERE account_id = $1", person.account_id)
    assert stored == hash_token(token)
    assert token.encode() not in stored

    # Opening the page (as a mail scanner would) changes nothing.
    page = await http.get(link.removeprefix(ctx.settings.public_base_url))
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert (await http.get("/v1/me", headers=person.headers)).json()["emailVerified"] is False
    confirmed = await http.post("/verify", data={"token": token})
    assert confirmed.status_code == 200
    assert "confirmed" in confirmed.text
    assert (await http.get("/v1/me", headers=person.headers)).json()["emailVerified"] is True
    assert_problem(await http.post("/v1/accounts/verify", json={"token": token}), 400, "link-invalid")


async def test_unverified_account_may_look_but_not_book_reserve_apply_or_register_children(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    person = await _sign_up(http, actors, "taro@example.jp")
    assert (await http.get("/v1/vacancies", params={"date": "2030-01-10"}, headers=person.headers)).status_code == 200
    assert (await http.get("/v1/me/bookings", headers=person.headers)).status_code == 200
    for path in (
        "/v1/bookings",
        "/v1/waitlist",
        "/v1/lotteries/1/applications",
        "/v1/children",
        "/v1/children/1/applications",
        "/v1/childcare/reservations",
        "/v1/childcare/waitlist",
    ):
        problem = assert_problem(await http.post(path, json={}, headers=person.headers), 403, "email-not-verified")
        assert "verification" in problem["detail"]


async def test_verification_link_expires(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, clock: MovableClock
) -> None:
    person = await _sign_up(http, actors, "late@example.jp")
    token = await actors.mailed_token(person.account_id, "verify_email")
    clock.advance(timedelta(hours=ctx.settings.email_verification_hours, minutes=1))
    assert_problem(await http.post("/v1/accounts/verify", json={"token": token}), 400, "link-invalid")


async def test_a_new_link_replaces_the_old_one(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await _sign_up(http, actors, "again@example.jp")
    first = await actors.mailed_token(person.account_id, "verify_email")
    assert (await http.post("/v1/accounts/verification", headers=person.headers)).status_code == 202
    second = await actors.mailed_token(person.account_id, "verify_email")
    assert_problem(await http.post("/v1/accounts/verify", json={"token": first}), 400, "link-invalid")
    assert (await http.post("/v1/accounts/verify", json={"token": second})).status_code == 200
    assert_problem(await http.post("/v1/accounts/verification", headers=person.headers), 409, "already-verified")


async def test_changing_the_address_needs_the_password_and_verifies_the_new_one(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, smtp: SmtpServer
) -> None:
    person = await actors.resident("old@example.jp")
    wrong = {"email": "new@example.jp", "currentPassword": "not my password"}
    assert_problem(await http.put("/v1/me/email", json=wrong, headers=person.headers), 403, "wrong-password")
    changed = await http.put(
        "/v1/me/email", json={"email": "new@example.jp", "currentPassword": PASSWORD}, headers=person.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "new@example.jp"
    assert changed.json()["emailVerified"] is False
    assert_problem(await http.post("/v1/bookings", json={}, headers=person.headers), 403, "email-not-verified")

    await smtp.deliver(ctx)
    to_old = [m for m in smtp.sink.messages if m["To"] == "old@example.jp"]
    # The old address is told (its sign-up verification may be delivered before or after this).
    assert "【Musubi】メールアドレスが変更されました" in [m["Subject"] for m in to_old]
    link = await smtp.link_to(ctx, "new@example.jp", path="/verify")
    assert (await http.post("/v1/accounts/verify", json={"token": _token(link)})).status_code == 200
    assert (await http.get("/v1/me", headers=person.headers)).json()["emailVerified"] is True


async def test_link_sent_to_an_address_the_account_no_longer_has_verifies_nothing(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person = await _sign_up(http, actors, "first@example.jp")
    body = await db.fetchval("SELECT body_text FROM email_outbox WHERE to_address = 'first@example.jp'")
    await http.put(
        "/v1/me/email", json={"email": "second@example.jp", "currentPassword": PASSWORD}, headers=person.headers
    )
    assert_problem(await http.post("/v1/accounts/verify", json={"token": token_in(body)}), 400, "link-invalid")
    assert (await http.get("/v1/me", headers=person.headers)).json()["emailVerified"] is False
