"""PostgreSQL and musubi processes for benchmarks: real ones, started here if not given.

The redis-server and port helpers are the tests' (tests/processes.py).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import asyncpg

from backend.core.db import migrate
from backend.processes.embedded import start_embedded_postgres, with_database
from tests.processes import RedisServer


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def scratch_database() -> tuple[str, str]:
    """(server URL, URL of a new migrated database): DATABASE_URL's server, or an embedded one."""
    server = os.environ.get("DATABASE_URL") or start_embedded_postgres(Path(tempfile.mkdtemp(prefix="musubi-bench-")))
    name = f"musubi_bench_{os.getpid()}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(server, name)
    await migrate(url)
    return server, url


async def drop_database(server: str, url: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.partition("?")[0].rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await conn.close()


async def bench_redis() -> tuple[str, RedisServer | None]:
    """(URL, server to stop): REDIS_URL's Redis, or a redis-server started for this run."""
    if url := os.environ.get("REDIS_URL"):
        return url, None
    server = RedisServer()
    await server.start()
    return server.url, server


async def stop_everything(
    processes: Iterable[subprocess.Popen[bytes]], redis: RedisServer | None, server: str, database_url: str
) -> None:
    """Stops the Musubi processes and the run's own Redis, and drops the run's database."""
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
    if redis is not None:
        redis.cleanup()
    await drop_database(server, database_url)


def start_musubi(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.processes.cli", *command.split()],
        env={**os.environ, **env, "MUSUBI_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=None,
    )


def rss_bytes(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
