"""What the integration tests of several contexts share."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from backend.core.clock import MovableClock
from backend.core.settings import Settings
from backend.http.app import create_app


@pytest.fixture
async def counting(test_settings: Settings, clock: MovableClock) -> AsyncIterator[httpx.AsyncClient]:
    """A second API on the same database, counting its statements."""
    app = create_app(dataclasses.replace(test_settings, count_statements=True), clock=clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", proxy_headers=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as client:
        yield client
    server.should_exit = True
    await task
