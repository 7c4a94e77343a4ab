"""PostgreSQL access: the asyncpg pool and the migration runner."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from importlib import resources
from typing import ParamSpec, TypeVar

import asyncpg
import msgspec

from schema.backoff import Backoff

log = logging.getLogger("musubi.db")

P = ParamSpec("P")
T = TypeVar("T")

# 40P01 and 40001: PostgreSQL rolled the whole transaction back because it met another one, not
# because the request was wrong. Running the command again usually succeeds (the other writer has
# committed by then, and the constraint or the lock now gives a clear answer).
TRANSIENT_FAILURES = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
COMMAND_ATTEMPTS = 3
# Milliseconds: the other writer commits in about that long.
COMMAND_BACKOFF = Backoff(first_s=0.025, cap_s=0.05)

# Any constant works as long as every migrating process uses the same one.
_MIGRATION_LOCK_KEY = 0x6D7573756269  # "musubi"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


# Bench only (settings.count_statements): the statements sent on behalf of the current request.
# asyncpg calls query loggers with loop.call_soon, which carries the request task's context.
statements_of_request: ContextVar[list[int] | None] = ContextVar("statements_of_request", default=None)


def _count_statement(_record: object) -> None:
    counter = statements_of_request.get()
    if counter is not None:
        counter[0] += 1


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as plain Python values via msgspec, which is faster than the json module.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda value: msgspec.json.encode(value).decode(),
            decoder=msgspec.json.decode,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset hook: asyncpg still rolls back any open transaction and drops listeners, but
    the reset query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) is skipped — an extra
    round trip per request. Pooled connections never take session-level advisory locks,
    LISTEN or SET; code that does (the relay, the migrator) uses its own connection."""


async def _init_counted_connection(conn: asyncpg.Connection) -> None:
    await _init_connection(conn)
    conn.add_query_logger(_count_statement)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    statement_timeout_ms: int = 5_000,
    count_statements: bool = False,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_counted_connection if count_statements else _init_connection,
        reset=_keep_session,
        # A connection idle this long is closed, so a burst does not pin connections forever.
        max_inactive_connection_lifetime=60,
        server_settings={
            "statement_timeout": str(statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(max(statement_timeout_ms * 4, 10_000)),
            "application_name": "musubi",
            "timezone": "UTC",
        },
    )
    assert pool is not None
    return pool


def retry_transient(command: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a service command again (twice at most) when its transaction is rolled back by a deadlock
    or a serialisation failure; what is left after that reaches backend/errors.py as a 503.

    Only for commands that acquire their own connection and run exactly one transaction: the
    failed attempt then left nothing behind, so repeating it cannot do anything twice.
    """

    @functools.wraps(command)
    async def with_retries(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, COMMAND_ATTEMPTS + 1):
            try:
                return await command(*args, **kwargs)
            except TRANSIENT_FAILURES as failure:
                if attempt == COMMAND_ATTEMPTS:
                    raise
                log.warning("%s: %s on attempt %d", command.__qualname__, failure.sqlstate, attempt)
                # Jittered, so the writers that met do not meet again in the same order.
                await asyncio.sleep(COMMAND_BACKOFF.delay(attempt))
        raise AssertionError("unreachable")

    return with_retries


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in schema/migrations, in order."""
    folder = resources.files("schema") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


async def migrate(dsn: str) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied.

    A session-level advisory lock serialises concurrent migrators: the second one waits,
    then finds nothing left to do.
    """
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version     integer PRIMARY KEY,
                    name        text NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, sql in migration_files():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
                log.info("applied migration %s", name)
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
    finally:
        await conn.close()
    return applied
