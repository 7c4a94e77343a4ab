"""A burst on the Redis bus waits for a connection instead of failing at the pool's cap."""

from __future__ import annotations

import asyncio

from realtime.bus import RedisBus
from tests.processes import RedisServer


async def test_a_thousand_ticket_claims_at_once_all_get_an_answer(redis_server: RedisServer) -> None:
    # A gateway restart sends every client back at once, each claiming its ticket on the bus: a
    # pool that refuses past its cap closed those sockets with 1013 instead of letting them in.
    bus = RedisBus(redis_server.url)
    try:
        claims = await asyncio.gather(*(bus.claim_once(f"test:burst:{n}", 30) for n in range(1000)))
        assert claims == [True] * 1000
        assert await bus.claim_once("test:burst:0", 30) is False  # and each claim still counts once
    finally:
        await bus.close()
