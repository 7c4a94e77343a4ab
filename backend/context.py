"""What every service needs from the running application, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from litestar.datastructures import State
from redis.asyncio import Redis

from backend.clock import Clock
from backend.settings import Settings


@dataclass(slots=True)
class AppContext:
    settings: Settings
    db: asyncpg.Pool
    clock: Clock
    password_hasher: PasswordHasher
    # None when running with the in-process bus (REDIS_URL=memory://).
    redis: Redis | None = None

    def acquire(self) -> Any:
        """A pooled connection for one unit of work; 503 (via errors.py) if none frees up in time."""
        return self.db.acquire(timeout=self.settings.db_acquire_timeout_s)


def app_context(state: State) -> AppContext:
    ctx = state.get("ctx")
    if ctx is None:
        raise RuntimeError("the application context is not ready (lifespan not started)")
    return ctx  # type: ignore[no-any-return]
