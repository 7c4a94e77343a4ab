"""Live updates: one websocket through the gateway, resumed after every drop.

It fetches a ticket, connects, sends `resume` with the last event id it saw, and reconnects
with capped exponential backoff and jitter after any close (1012 when a gateway restarts, 1013
when too slow, 4003 when the socket has aged out, network loss). Events reach the view models
in order, each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from mobile.api import ApiError, MusubiApi

State = Literal["offline", "connecting", "live"]
Handler = Callable[[dict[str, Any]], Awaitable[None] | None]


class LiveConnection:
    def __init__(
        self,
        api: MusubiApi,
        on_event: Handler,
        on_state: Callable[[State], None] = lambda _: None,
        *,
        topics: list[str] | None = None,
        url_override: str | None = None,
    ) -> None:
        self.api = api
        self.on_event = on_event
        self.on_state = on_state
        self.topics = topics
        self.url_override = url_override  # when the ticket's URL is not reachable from here (tests, proxies)
        self.cursor: int | None = None
        self.state: State = "offline"
        self._task: asyncio.Task[None] | None = None

    def _set(self, state: State) -> None:
        self.state = state
        self.on_state(state)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set("offline")

    async def _run(self) -> None:
        delay = 0.5
        while True:
            self._set("connecting")
            try:
                ticket = await self.api.post("/v1/realtime/tickets", {"topics": self.topics} if self.topics else None)
                url = self.url_override or ticket["url"]
                async with connect(f"{url}?ticket={ticket['ticket']}", open_timeout=10, compression=None) as ws:
                    if self.cursor is not None:
                        await ws.send(msgspec.json.encode({"type": "resume", "after": self.cursor}).decode())
                    async for raw in ws:
                        message = msgspec.json.decode(raw)
                        kind = message.get("type")
                        if kind == "welcome":
                            self._set("live")
                            delay = 0.5
                            if self.cursor is None:
                                self.cursor = message["head"]
                        elif "id" in message and (self.cursor is None or message["id"] > self.cursor):
                            self.cursor = message["id"]
                            result = self.on_event(message)
                            if asyncio.iscoroutine(result):
                                await result
            except (ApiError, ConnectionClosed, InvalidHandshake, InvalidURI, OSError, TimeoutError):
                pass
            self._set("offline")
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
            delay = min(delay * 2, 30.0)
