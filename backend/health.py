"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.datastructures import State

from backend.auth import PUBLIC
from backend.context import app_context
from schema.service import Health, Readiness

_READY_TIMEOUT_S = 2.0


@get("/health", access=PUBLIC, operation_id="health")
async def health() -> Health:
    """200 while the process runs (liveness)."""
    return Health(status="ok")


@get("/ready", access=PUBLIC, operation_id="ready")
async def ready(state: State) -> Response[Readiness]:
    """200 when PostgreSQL (and Redis, if configured) answer; 503 otherwise (readiness)."""
    ctx = app_context(state)
    database = redis = False
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S), ctx.acquire() as conn:
            database = await conn.fetchval("SELECT true") is True
    except Exception:
        database = False
    if ctx.redis is not None:
        try:
            async with asyncio.timeout(_READY_TIMEOUT_S):
                redis = bool(await ctx.redis.ping())
        except Exception:
            redis = False
    ok = database and (ctx.redis is None or redis)
    body = Readiness(status="ready" if ok else "unavailable", database=database, redis=redis if ctx.redis else None)
    return Response(body, status_code=200 if ok else 503)
