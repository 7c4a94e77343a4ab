"""With MUSUBI_REDIS_SENTINELS, the bus finds the Redis master through Sentinel, and finds the new
one after Sentinel promotes a replica."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime.bus import SUBSCRIBED, RedisBus, connect_redis
from tests.processes import free_port, redis_executable, wait_for_port

MASTER_NAME = "musubi"


class RedisProcess:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="musubi-test-sentinel-")
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, config: str | None = None) -> None:
        command = [redis_executable()]
        if config is not None:
            path = Path(self.folder) / "sentinel.conf"
            path.write_text(config.format(port=self.port, dir=self.folder))
            command += [str(path), "--sentinel"]
        else:
            command += ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.folder]
        self.process = subprocess.Popen([*command, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_for_port(self.port, process=self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


SENTINEL_CONF = """port {port}
bind 127.0.0.1
dir {dir}
sentinel monitor musubi 127.0.0.1 MASTER_PORT 1
sentinel down-after-milliseconds musubi 1000
sentinel failover-timeout musubi 5000
"""


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[RedisProcess, RedisProcess, RedisProcess]]:
    master = RedisProcess()
    await master.start()
    replica = RedisProcess("--replicaof", "127.0.0.1", str(master.port))
    await replica.start()
    sentinel = RedisProcess()
    await sentinel.start(SENTINEL_CONF.replace("MASTER_PORT", str(master.port)))
    yield master, replica, sentinel
    for process in (sentinel, replica, master):
        process.kill()


async def master_port(sentinel: RedisProcess) -> int:
    client = connect_redis(f"redis://127.0.0.1:{sentinel.port}/0")
    try:
        _host, port = await client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
        return int(port)
    finally:
        await client.aclose()


async def test_bus_follows_the_master_through_a_sentinel_failover(
    redis_pair: tuple[RedisProcess, RedisProcess, RedisProcess],
) -> None:
    master, replica, sentinel = redis_pair
    # The URL's host is deliberately wrong: with Sentinels only its database number counts.
    bus = RedisBus("redis://nowhere.invalid:1/0", sentinels=[f"127.0.0.1:{sentinel.port}"], master=MASTER_NAME)
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def listen() -> None:
        async for message in bus.subscribe():
            await received.put(message)

    listener = asyncio.create_task(listen())
    try:
        assert await asyncio.wait_for(received.get(), 20) == SUBSCRIBED
        await bus.publish([b'{"id":1}'])
        assert await asyncio.wait_for(received.get(), 10) == b'{"id":1}'
        assert await bus.claim_once("ticket:1", 60)

        master.kill()
        end = time.monotonic() + 60
        while await master_port(sentinel) != replica.port:
            assert time.monotonic() < end, "Sentinel never promoted the replica"
            await asyncio.sleep(0.2)
        # The subscription comes back on the new master (a gateway then catches up from the outbox:
        # what was published meanwhile is not in pub/sub).
        assert await asyncio.wait_for(received.get(), 30) == SUBSCRIBED
        # Publishing retries as the relay does until the client reaches the new master.
        while True:
            try:
                await bus.publish([b'{"id":2}'])
                break
            except Exception:
                assert time.monotonic() < end
                await asyncio.sleep(0.2)
        assert await asyncio.wait_for(received.get(), 10) == b'{"id":2}'
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await bus.close()
