"""The SQL helpers every booking calls (issue 16, migration 0030): the lock key of a resource's day
is the same whatever the session's DateStyle and one per Tokyo day, and the helpers that are one
expression are inlined into the statements that call them rather than parsed and planned on each
call."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from tests.support import Actors

TOKYO_EVENING = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 23:30 on 1 December in Tokyo
TOKYO_MORNING = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 09:30 on 1 December in Tokyo
TOKYO_NEXT_DAY = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # 00:30 on 2 December in Tokyo


async def test_a_day_has_one_lock_key_whatever_the_sessions_date_style(db: asyncpg.Pool) -> None:
    keys = set()
    async with db.acquire() as conn:
        for style in ("ISO, MDY", "German, DMY", "SQL, DMY", "Postgres, YMD"):
            async with conn.transaction():
                await conn.execute(f"SET LOCAL DateStyle = '{style}'")
                keys.add(await conn.fetchval("SELECT booking_day_key(7, $1)", TOKYO_EVENING))
    assert len(keys) == 1


async def test_the_lock_key_follows_the_tokyo_day_and_the_resource(db: asyncpg.Pool) -> None:
    key = await db.fetchval("SELECT booking_day_key(7, $1)", TOKYO_EVENING)
    assert await db.fetchval("SELECT booking_day_key(7, $1)", TOKYO_MORNING) == key
    assert await db.fetchval("SELECT booking_day_key(7, $1)", TOKYO_NEXT_DAY) != key  # same UTC day
    assert await db.fetchval("SELECT booking_day_key(8, $1)", TOKYO_EVENING) != key


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("booking_day_key($1::bigint, $2::timestamptz)", "hashtextextended"),
        ("resource_gate_key($1::bigint)", "hashtextextended"),
        ("booking_opens_at($2::timestamptz, 3)", "AT TIME ZONE"),
    ],
)
async def test_one_expression_helpers_are_inlined(db: asyncpg.Pool, call: str, body: str) -> None:
    """As book_slot's statements are planned (generic plans, parameters unknown): the plan shows the
    helper's body, not a call that would be parsed and planned on each execution."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE helper(bigint, timestamptz) AS SELECT {call}")
        try:
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN (VERBOSE) EXECUTE helper(7, now())"))
        finally:
            await conn.execute("DEALLOCATE helper")
    function = call.partition("(")[0]
    assert body in plan
    assert f"{function}(" not in plan


async def test_the_residency_lookup_keeps_its_plan_per_connection(db: asyncpg.Pool) -> None:
    """verified_municipality reads a table, so it cannot be inlined; as PL/pgSQL its plan is made once
    per connection (a LANGUAGE sql function with a FROM is planned again on every call)."""
    language = await db.fetchval(
        "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
        " WHERE p.proname = 'verified_municipality'"
    )
    assert language == "plpgsql"


async def test_the_residency_lookup_answers_only_a_verified_residency(db: asyncpg.Pool, actors: Actors) -> None:
    person = await actors.resident()
    account = person.account_id
    now = datetime.now(UTC)

    async def looked_up() -> int | None:
        municipality: int | None = await db.fetchval("SELECT verified_municipality($1)", account)
        return municipality

    await db.execute("DELETE FROM residencies WHERE account_id = $1", account)
    assert await looked_up() is None
    declared = await db.fetchval(
        "INSERT INTO residencies (account_id, municipality_id, status, declared_at)"
        " VALUES ($1, 9, 'pending', $2) RETURNING id",
        account,
        now,
    )
    assert await looked_up() is None  # declared, not yet verified
    await db.execute(
        "UPDATE residencies SET status = 'declined', decided_at = $2, decline_reason = 'no record' WHERE id = $1",
        declared,
        now,
    )
    assert await looked_up() is None
    verified = await db.fetchval(
        "INSERT INTO residencies (account_id, municipality_id, status, declared_at, decided_at)"
        " VALUES ($1, 1, 'verified', $2, $2) RETURNING id",
        account,
        now,
    )
    assert await looked_up() == 1
    await db.execute("UPDATE residencies SET status = 'ended', ended_at = $2 WHERE id = $1", verified, now)
    assert await looked_up() is None  # moved away: no residency until the next one is verified
