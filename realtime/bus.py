"""The fan-out bus between the outbox relay and the gateways: Redis pub/sub, or in-process.

Both carry the same pre-encoded event messages on one channel, in the relay's publish
order. `subscribe()` yields `SUBSCRIBED` each time a subscription is (re)established, so a
gateway knows when it may have missed messages and must catch up from the outbox table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisError

from schema.backoff import Backoff

log = logging.getLogger("musubi.bus")

CHANNEL: Final = "musubi:events"
SUBSCRIBED: Final = b""  # never a real message: those are JSON objects
_PRUNE_AT: Final = 4096  # in-process claims: drop expired ones once this many are kept
# Every gateway resubscribes when Redis comes back; jittered, so they do not all arrive at once.
RESUBSCRIBE_BACKOFF: Final = Backoff(first_s=0.05, cap_s=2.0)


class BusUnavailable(Exception):
    """The bus could not answer (Redis down); the caller decides whether to fail closed."""


class Bus(Protocol):
    async def publish(self, messages: Sequence[bytes]) -> None:
        """Publish in order; on failure some may have gone out (callers re-send: at-least-once)."""

    def subscribe(self) -> AsyncIterator[bytes]: ...

    async def claim_once(self, key: str, ttl_s: int) -> bool:
        """True the first time `key` is claimed within `ttl_s` seconds, false afterwards."""

    async def close(self) -> None: ...


class MemoryBus:
    """For one process without Redis (REDIS_URL=memory://): relay and gateway share it."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._claims: dict[str, float] = {}  # key → monotonic expiry

    async def claim_once(self, key: str, ttl_s: int) -> bool:
        now = time.monotonic()
        if len(self._claims) >= _PRUNE_AT:
            self._claims = {k: until for k, until in self._claims.items() if until > now}
        if self._claims.get(key, 0.0) > now:
            return False
        self._claims[key] = now + max(1, ttl_s)
        return True

    async def publish(self, messages: Sequence[bytes]) -> None:
        for queue in self._queues:
            for message in messages:
                queue.put_nowait(message)

    async def subscribe(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield SUBSCRIBED
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        self._queues.clear()


_POOL_SIZE = 64


def connect_redis(url: str, sentinels: Sequence[str] = (), master: str = "musubi", **options: Any) -> aioredis.Redis:
    """A client of the Redis at `url`, or — with Sentinel addresses — of whichever server the
    Sentinels currently name master of `master` (asked again after a failover breaks the connection).
    `url` then still supplies the password and database number; its host is not used."""
    if not sentinels:
        # A blocking pool: a burst (thousands of sockets reconnecting after a gateway restart, each
        # claiming its ticket) waits a moment for a connection instead of failing at the pool's cap.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=_POOL_SIZE, timeout=5, **options)
        return aioredis.Redis(connection_pool=pool)
    parsed = urlsplit(url)
    database = int(parsed.path.strip("/") or 0)
    addresses = [(host, int(port or 26379)) for host, _, port in (entry.rpartition(":") for entry in sentinels)]
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        addresses,
        sentinel_kwargs={"socket_timeout": 2.0, "socket_connect_timeout": 2.0},
        password=parsed.password,
        db=database,
        **options,
    )
    client: aioredis.Redis = sentinel.master_for(master)
    return client


class RedisBus:
    def __init__(self, url: str, sentinels: Sequence[str] = (), master: str = "musubi") -> None:
        self.url = url
        self.sentinels = tuple(sentinels)
        self.master = master
        self._publisher = connect_redis(url, sentinels, master, socket_timeout=2.0, socket_connect_timeout=2.0)

    async def publish(self, messages: Sequence[bytes]) -> None:
        async with self._publisher.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(CHANNEL, message)
            await pipe.execute()

    async def subscribe(self) -> AsyncIterator[bytes]:
        delays = RESUBSCRIBE_BACKOFF.delays()
        while True:
            # health_check_interval makes a silently dead connection fail instead of hanging.
            client = connect_redis(
                self.url, self.sentinels, self.master, socket_connect_timeout=2.0, health_check_interval=5
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                delays = RESUBSCRIBE_BACKOFF.delays()
                yield SUBSCRIBED
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        yield message["data"]
            except (RedisError, OSError) as exc:
                delay = next(delays)
                log.warning("redis subscription lost (%r); retrying in %.2fs", exc, delay)
            finally:
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await client.aclose()
                except (RedisError, OSError):
                    pass
            await asyncio.sleep(delay)

    async def claim_once(self, key: str, ttl_s: int) -> bool:
        try:
            return bool(await self._publisher.set(key, b"1", nx=True, ex=max(1, ttl_s)))
        except (RedisError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self._publisher.aclose()


def make_bus(
    redis_url: str | None,
    shared_memory_bus: MemoryBus | None = None,
    *,
    sentinels: Sequence[str] = (),
    sentinel_master: str = "musubi",
) -> Bus:
    if redis_url is None or redis_url.startswith("memory:"):
        return shared_memory_bus or MemoryBus()
    return RedisBus(redis_url, sentinels, sentinel_master)
