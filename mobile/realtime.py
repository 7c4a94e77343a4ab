"""Live updates: one websocket through the gateway, resumed after every drop.

It fetches a ticket, connects, sends `resume` with the last event id it saw, and reconnects
with capped exponential backoff and jitter after any close (1012 when a gateway restarts, 1013
when too slow, 4003 when the socket has aged out, network loss). Events reach the view models
in order, each exactly once, decoded into the `schema.events` union; a type this client does not
know yet (a newer server) is skipped, never fatal. After every (re)connection and every `resync`
the owner is told (`on_resync`), so it can refetch what an event may not carry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from mobile.api import ApiError, MusubiApi
from schema.backoff import Backoff
from schema.events import AnyEvent, Event
from schema.realtime import Ticket

State = Literal["offline", "connecting", "live"]
Handler = Callable[[Event], Awaitable[None]]

# A restarting gateway drops every phone at once; full jitter spreads their returns over the window.
RECONNECT_BACKOFF = Backoff(first_s=0.5, cap_s=30.0)


class _Message(msgspec.Struct):
    """Whatever the gateway sends: `welcome`/`resync`/`ping`, or an event {id, topic, type, data}."""

    type: str
    id: int | None = None
    head: int | None = None
    data: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))


_messages = msgspec.json.Decoder(_Message)
# A garbled frame is treated like a dropped socket: reconnect and resume from the cursor.
_CONNECTION_ENDED = (
    ApiError,
    ConnectionClosed,
    InvalidHandshake,
    InvalidURI,
    OSError,
    TimeoutError,
    msgspec.DecodeError,
)
_event_data = msgspec.json.Decoder(dict[str, object])


def decode_event(kind: str, data: msgspec.Raw) -> Event | None:
    """The event of a gateway message, or None for a type this client does not know."""
    try:
        event: Event = msgspec.convert({**_event_data.decode(data), "type": kind}, AnyEvent)
    except msgspec.ValidationError:
        return None
    return event


class LiveConnection:
    def __init__(
        self,
        api: MusubiApi,
        on_event: Handler,
        on_state: Callable[[State], None] = lambda _: None,
        *,
        on_resync: Callable[[], Awaitable[None]] | None = None,
        topics: list[str] | None = None,
        url_override: str | None = None,
    ) -> None:
        self.api = api
        self.on_event = on_event
        self.on_state = on_state
        self.on_resync = on_resync
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
        delays = RECONNECT_BACKOFF.delays()
        while True:
            self._set("connecting")
            try:
                ticket = msgspec.convert(
                    await self.api.post("/v1/realtime/tickets", {"topics": self.topics} if self.topics else None),
                    Ticket,
                )
                url = self.url_override or ticket.url
                async with connect(f"{url}?ticket={ticket.ticket}", open_timeout=10, compression=None) as ws:
                    if self.cursor is not None:
                        await ws.send(msgspec.json.encode({"type": "resume", "after": self.cursor}).decode())
                    async for raw in ws:
                        message = _messages.decode(raw)
                        if message.type in ("welcome", "resync") and message.head is not None:
                            if message.type == "welcome":
                                self._set("live")
                                delays = RECONNECT_BACKOFF.delays()
                            if self.cursor is None or message.type == "resync":
                                self.cursor = message.head
                            if self.on_resync is not None:
                                await self.on_resync()
                        elif message.id is not None:
                            if self.cursor is not None and message.id <= self.cursor:
                                continue
                            self.cursor = message.id
                            if (event := decode_event(message.type, message.data)) is not None:
                                await self.on_event(event)
            except (
                ApiError,
                ConnectionClosed,
                InvalidHandshake,
                InvalidURI,
                OSError,
                TimeoutError,
                msgspec.DecodeError,
            ):
                pass
            self._set("offline")
            await asyncio.sleep(next(delays))
