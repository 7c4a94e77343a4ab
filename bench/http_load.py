"""A minimal keep-alive HTTP/1.1 client for load generation.

httpx spends more CPU than the server once hundreds of requests are in flight (its pool is
searched per request), which makes it measure itself. Here each simulated phone owns one
connection and sends its requests one after another, like a real client.
"""

from __future__ import annotations

import asyncio

import msgspec


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        # The headers of the last response, names in lower case.
        self.last_headers: dict[bytes, bytes] = {}

    async def request(
        self, method: str, path: str, json: object | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = msgspec.json.encode(json) if json is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if json is not None:
            head.append("Content-Type: application/json")
        head.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self.last_headers = headers
        return status, await self.reader.readexactly(int(headers.get(b"content-length", 0)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
