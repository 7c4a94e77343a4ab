from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx

from backend.core.clock import MovableClock
from tests.support import PASSWORD, Actors, assert_problem


async def test_sign_up_returns_account_without_password_fields(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/accounts", json={"email": "hanako@example.jp", "password": PASSWORD, "displayName": "Hanako"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "hanako@example.jp"
    assert body["locale"] == "ja"
    assert not any("password" in key.lower() for key in body)


async def test_second_sign_up_with_same_email_in_other_case_gets_409(http: httpx.AsyncClient) -> None:
    first = await http.post("/v1/accounts", json={"email": "Taro@Example.jp", "password": PASSWORD, "displayName": "T"})
    assert first.status_code == 201
    again = await http.post("/v1/accounts", json={"email": "taro@example.jp", "password": PASSWORD, "displayName": "T"})
    assert_problem(again, 409, "email-taken")


async def test_password_is_stored_as_argon2id_hash(http: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    await http.post("/v1/accounts", json={"email": "a@example.jp", "password": PASSWORD, "displayName": "A"})
    stored = await db.fetchval("SELECT password_hash FROM accounts WHERE email = 'a@example.jp'")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_wrong_password_and_unknown_email_answer_alike(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident("known@example.jp")
    wrong_password = await http.post("/v1/sessions", json={"email": person.email, "password": "not the password"})
    unknown_email = await http.post("/v1/sessions", json={"email": "nobody@example.jp", "password": "not the password"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    # Alike but for the traceId every problem carries (each request has its own).
    one, other = wrong_password.json(), unknown_email.json()
    assert one.pop("traceId") != other.pop("traceId")
    assert one == other
    assert wrong_password.headers["content-type"] == unknown_email.headers["content-type"]


async def test_login_returns_token_that_reaches_me(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident()
    me = await http.get("/v1/me", headers=person.headers)
    assert me.status_code == 200
    assert me.json()["id"] == person.account_id
    assert me.json()["memberships"] == []


async def test_me_lists_memberships(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    nurse = await actors.member("hospital", "er_staff", hospital)
    me = (await http.get("/v1/me", headers=nurse.headers)).json()
    assert me["memberships"] == [{"organizationId": hospital, "organizationKind": "hospital", "role": "er_staff"}]


async def test_revoked_token_is_refused_at_once(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident()
    logout = await http.delete("/v1/sessions/current", headers=person.headers)
    assert logout.status_code == 204
    assert_problem(await http.get("/v1/me", headers=person.headers), 401)
    assert_problem(await http.delete("/v1/sessions/current", headers=person.headers), 401)


async def test_logout_ends_only_that_session(http: httpx.AsyncClient, actors: Actors) -> None:
    phone = await actors.resident()
    laptop = await actors.login(phone.email, phone.account_id)
    await http.delete("/v1/sessions/current", headers=phone.headers)
    assert (await http.get("/v1/me", headers=laptop.headers)).status_code == 200


async def test_token_expires(http: httpx.AsyncClient, actors: Actors, clock: MovableClock) -> None:
    person = await actors.resident()
    clock.advance(timedelta(hours=12, minutes=1))
    assert_problem(await http.get("/v1/me", headers=person.headers), 401)


async def test_token_is_stored_only_as_hash(actors: Actors, db: asyncpg.Pool) -> None:
    person = await actors.resident()
    stored = await db.fetch("SELECT token_hash FROM sessions WHERE account_id = $1", person.account_id)
    assert len(stored) == 1
    assert person.token.encode() not in stored[0]["token_hash"]
    assert len(stored[0]["token_hash"]) == 32


async def test_garbage_tokens_are_refused(http: httpx.AsyncClient) -> None:
    for header in ("Bearer", "Bearer msb_" + "x" * 43, "Basic dXNlcjpwYXNz", "Bearer " + "msb_" + "a" * 500):
        assert_problem(await http.get("/v1/me", headers={"Authorization": header}), 401)


async def test_failed_logins_are_throttled_per_account(http: httpx.AsyncClient, actors: Actors) -> None:
    person = await actors.resident()
    for _ in range(10):
        failed = await http.post("/v1/sessions", json={"email": person.email, "password": "wrong password!"})
        assert failed.status_code == 401
    throttled = await http.post("/v1/sessions", json={"email": person.email, "password": PASSWORD})
    assert_problem(throttled, 429)
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60 + 1


async def test_throttle_window_reopens(http: httpx.AsyncClient, actors: Actors, clock: MovableClock) -> None:
    person = await actors.resident()
    for _ in range(10):
        await http.post("/v1/sessions", json={"email": person.email, "password": "wrong password!"})
    assert (await http.post("/v1/sessions", json={"email": person.email, "password": PASSWORD})).status_code == 429
    clock.advance(timedelta(minutes=16))
    assert (await http.post("/v1/sessions", json={"email": person.email, "password": PASSWORD})).status_code == 201


async def test_failed_logins_are_throttled_per_address(http: httpx.AsyncClient) -> None:
    # Guessing across many e-mails from one address: each account stays under its own limit.
    for n in range(100):
        failed = await http.post("/v1/sessions", json={"email": f"guess{n}@example.jp", "password": "whatever123"})
        assert failed.status_code == 401
    response = await http.post("/v1/sessions", json={"email": "guess-more@example.jp", "password": "whatever123"})
    assert_problem(response, 429)
