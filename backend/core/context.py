"""What every service needs from the running process, built once at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from litestar.datastructures import State
from redis.asyncio import Redis

from backend.core.clock import Clock
from backend.core.crypto import IdentityCipher, parse_keyring
from backend.core.db import create_pool
from backend.core.settings import Settings
from realtime.bus import connect_redis


@dataclass(slots=True)
class AppContext:
    settings: Settings
    db: asyncpg.Pool
    clock: Clock
    password_hasher: PasswordHasher
    # None when running with the in-process bus (REDIS_URL=memory://).
    redis: Redis | None = None
    # None when no identity keys are configured: placements then refuse (503) rather than store plain text.
    identity: IdentityCipher | None = None
    # What services keep between requests in this process, each under its own module's key (what
    # they keep must stay right without it: it only saves reading again).
    memo: dict[str, Any] = field(default_factory=dict)
    # Turns at the pool's connections, taken in the order asked for (see acquire), and how many wait.
    turns: asyncio.Semaphore = field(init=False)
    waiting: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.turns = asyncio.Semaphore(self.db.get_max_size())

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:  # an asyncpg.Connection, used untyped as before
        """A pooled connection for one unit of work, first come first served; 503 (via errors.py) if
        none frees up in time. asyncpg's pool alone is not first come, first served: a caller woken
        for a freed connection loses it to one that has just arrived and queues again at the back,
        so in a booking rush a few requests waited past the timeout (503) while thousands came and
        went. asyncio's semaphore hands its turns out in order."""
        self.waiting += 1
        try:
            async with asyncio.timeout(self.settings.db_acquire_timeout_s):
                await self.turns.acquire()
        finally:
            self.waiting -= 1
        try:
            async with self.db.acquire(timeout=self.settings.db_acquire_timeout_s) as conn:
                yield conn
        finally:
            self.turns.release()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.close()


async def open_context(settings: Settings, clock: Clock) -> AppContext:
    if settings.database_url is None:
        raise RuntimeError("settings.database_url is unset; `musubi` starts an embedded PostgreSQL for that")
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        count_statements=settings.count_statements,
    )
    redis = None
    if settings.redis_url is not None and not settings.redis_url.startswith("memory:"):
        redis = connect_redis(
            settings.redis_url,
            settings.redis_sentinels,
            settings.redis_sentinel_master,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    identity = IdentityCipher(parse_keyring(settings.identity_keys)) if settings.identity_keys else None
    return AppContext(settings=settings, db=pool, clock=clock, password_hasher=hasher, redis=redis, identity=identity)


def app_context(state: State) -> AppContext:
    ctx = state.get("ctx")
    if ctx is None:
        raise RuntimeError("the application context is not ready (lifespan not started)")
    return ctx  # type: ignore[no-any-return]
