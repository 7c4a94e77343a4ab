"""A phone that hangs up halfway through sending its body (a tunnel, a killed app) is the client's
doing: no 500, no error in the log, only an info line and a 499 in the request log and metrics."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from tests.support import Actors


async def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(
    base_url: str, actors: Actors, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    person = await actors.resident()
    address = urlsplit(base_url)
    assert address.hostname is not None
    assert address.port is not None
    _reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        b"POST /v1/bookings HTTP/1.1\r\nHost: musubi\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {person.token}\r\n".encode()
        + b'Content-Length: 500\r\n\r\n{"resourceId": 1, "start": '
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async with asyncio.timeout(10):
        while not any("client closed the connection" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110 - log records, no event to wait on
            await asyncio.sleep(0.02)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
