"""Connections go to callers in the order they asked (issue 16). asyncpg's pool alone lets a caller
that has just arrived take the connection freed for one that waited, who then queues again at the
back: in a booking rush a few requests waited past the acquire timeout (503) while thousands passed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from backend.core.clock import MovableClock
from backend.core.context import open_context
from backend.core.settings import Settings


async def test_connections_go_to_callers_in_the_order_they_asked(test_settings: Settings, clock: MovableClock) -> None:
    ctx = await open_context(replace(test_settings, db_pool_min=2, db_pool_max=2), clock)
    try:
        for _ in range(3):  # asyncpg's pool alone served 9–14 of the sixty out of order each time
            granted = await _grants(ctx.acquire)
            assert granted == sorted(granted)
        assert ctx.waiting == 0
    finally:
        await ctx.close()


async def _grants(acquire: Any) -> list[int]:
    """Sixty callers arriving one after another while two connections serve: the order each got one."""
    granted: list[int] = []

    async def ask(n: int) -> None:
        async with acquire() as conn:
            granted.append(n)
            await conn.execute("SELECT 1")

    callers = []
    for n in range(60):
        callers.append(asyncio.create_task(ask(n)))
        await asyncio.sleep(0)  # new callers keep arriving while earlier ones wait
    await asyncio.gather(*callers)
    return granted
