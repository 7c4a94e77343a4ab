from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from backend.core.context import AppContext
from backend.processes.jobs import sweep_once
from tests.support import Actor, Actors, assert_problem


def org_body(name: str = "水戸中央病院") -> dict[str, object]:
    return {"kind": "hospital", "name": name, "municipalityId": 1}


async def create(http: httpx.AsyncClient, admin: Actor, key: str, name: str = "水戸中央病院") -> httpx.Response:
    return await http.post("/v1/organizations", json=org_body(name), headers={**admin.headers, "Idempotency-Key": key})


async def test_retry_with_same_key_returns_first_response(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    first = await create(http, admin, key)
    again = await create(http, admin, key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM organizations WHERE name = '水戸中央病院'") == 1


async def test_same_key_different_body_gets_422(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    assert (await create(http, admin, key, "A")).status_code == 201
    assert_problem(await create(http, admin, key, "B"), 422, "idempotency-key-reused")
    assert await db.fetchval("SELECT count(*) FROM organizations WHERE name = 'B'") == 0


async def test_concurrent_duplicates_execute_once(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    responses = await asyncio.gather(*(create(http, admin, key) for _ in range(25)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 24
    assert await db.fetchval("SELECT count(*) FROM organizations WHERE name = '水戸中央病院'") == 1


async def test_keys_are_scoped_per_account(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    one, two = await actors.prefecture_admin(), await actors.prefecture_admin()
    key = str(uuid.uuid4())
    first, second = await create(http, one, key), await create(http, two, key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


async def test_replay_survives_re_login(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    first = await create(http, admin, key)
    relogged = await actors.login(admin.email, admin.account_id)
    again = await create(http, relogged, key)
    assert again.json() == first.json()


async def test_client_errors_are_replayed_too(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    body = {"kind": "municipality", "name": "水戸市"}  # a municipality needs its municipalityId
    first = await http.post("/v1/organizations", json=body, headers={**admin.headers, "Idempotency-Key": key})
    again = await http.post("/v1/organizations", json=body, headers={**admin.headers, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 422
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_refused_caller_claims_no_key(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    # Access is checked before any stored answer is looked at; a refusal is not kept for replay.
    paramedic = await actors.member("fire_department", "paramedic")
    key = str(uuid.uuid4())
    first = await create(http, paramedic, key)
    again = await create(http, paramedic, key)
    assert_problem(first, 403)
    assert_problem(again, 403)
    assert "idempotent-replayed" not in again.headers
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_replay_after_role_removed_is_refused(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    assert (await create(http, admin, key)).status_code == 201
    await db.execute("DELETE FROM memberships WHERE account_id = $1", admin.account_id)
    assert_problem(await create(http, admin, key), 403)


async def test_anonymous_keys_are_bounded_per_address(
    http: httpx.AsyncClient, db: asyncpg.Pool, ctx: AppContext
) -> None:
    cap = ctx.settings.max_anonymous_idempotency_keys
    # Keys already kept for this address (as a burst of sign-ups would leave them).
    await db.execute(
        "INSERT INTO idempotency_keys (principal, key, request_hash, response_status, created_at)"
        " SELECT 'address:127.0.0.1', 'k' || n, '\\x00', 201, now() - interval '1 hour'"
        " FROM generate_series(1, $1) AS n",
        cap - 1,
    )

    async def sign_up(n: int, key: str | None) -> httpx.Response:
        body = {"email": f"anon{n}@example.jp", "password": "correct horse battery staple", "displayName": "A"}
        return await http.post("/v1/accounts", json=body, headers={"Idempotency-Key": key} if key else {})

    # Two at once race for the last place: exactly one gets it.
    answers = await asyncio.gather(sign_up(1, "last-1"), sign_up(2, "last-2"))
    assert sorted(r.status_code for r in answers) == [201, 429]
    winner = 1 if answers[0].status_code == 201 else 2
    refused = answers[2 - winner]
    assert_problem(refused, 429, "too-many-idempotency-keys")
    assert 0 < int(refused.headers["retry-after"]) <= 23 * 3600 + 1
    # A key already kept still replays; a request without a key is not limited by this.
    assert (await sign_up(winner, f"last-{winner}")).headers.get("idempotent-replayed") == "true"
    assert (await sign_up(3, None)).status_code == 201
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE principal = 'address:127.0.0.1'") == cap


async def test_abandoned_key_is_taken_over_after_its_lease(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    # A request that died mid-way (process killed) left an in-flight row behind.
    admin = await actors.prefecture_admin()
    key = str(uuid.uuid4())
    await db.execute(
        "INSERT INTO idempotency_keys (principal, key, request_hash, locked_until, created_at)"
        " VALUES ($1, $2, '\\x00', now() - interval '1 second', now() - interval '2 minutes')",
        f"account:{admin.account_id}",
        key,
    )
    response = await create(http, admin, key)
    assert response.status_code == 201


async def test_invalid_keys_are_refused(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    admin = await actors.prefecture_admin()
    for key in ("x" * 201, "has space", ""):
        response = await http.post(
            "/v1/organizations", json=org_body(), headers={**admin.headers, "Idempotency-Key": key}
        )
        assert_problem(response, 400, "bad-idempotency-key")
    assert await db.fetchval("SELECT count(*) FROM organizations WHERE name = '水戸中央病院'") == 0


async def test_login_tokens_are_never_stored_for_replay(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    key = str(uuid.uuid4())
    body = {"email": person.email, "password": "correct horse battery staple"}
    first = await http.post("/v1/sessions", json=body, headers={"Idempotency-Key": key})
    second = await http.post("/v1/sessions", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert first.json()["token"] != second.json()["token"]
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_sweep_forgets_keys_past_their_ttl(db: asyncpg.Pool, ctx: AppContext) -> None:
    for key, age in (("old", "25 hours"), ("fresh", "1 hour")):
        await db.execute(
            "INSERT INTO idempotency_keys (principal, key, request_hash, response_status, created_at)"
            f" VALUES ('anonymous', $1, '\\x00', 201, now() - interval '{age}')",
            key,
        )
    await sweep_once(ctx)
    assert [r["key"] for r in await db.fetch("SELECT key FROM idempotency_keys")] == ["fresh"]
