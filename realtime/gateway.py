"""The websocket gateway: many sockets, each seeing only the topics its ticket names.

A connection is *pending* until its starting point is settled: live events for its topics
are buffered while the optional `resume` is awaited and the missed events are replayed from
the outbox table; then the buffer is flushed, skipping ids already sent. Every client keeps
a `last_id`, so whatever path an event takes (replay, buffer, live, catch-up after a lost
bus subscription) it is sent at most once and in id order.

A client whose socket cannot keep up (write buffer over the limit) is disconnected with 1013
rather than slowing everyone else; it reconnects and resumes from its cursor.

A socket lives at most about `max_age_s` (jittered, so sockets opened together do not all
return together): the ticket's topics were decided at connect time, so a membership removed
since then stops reaching the socket within that bound. The client is closed with 4003, gets a
fresh ticket (with today's topics) and resumes from its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qs, urlsplit

import asyncpg
import msgspec
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from realtime.bus import SUBSCRIBED, Bus
from realtime.relay import encode_event
from realtime.tickets import TicketError, verify_ticket
from schema.realtime import Ping, Resume, Resync, Welcome

log = logging.getLogger("musubi.gateway")

CLOSE_INVALID_TICKET: Final = 4001
CLOSE_TICKET_EXPIRED: Final = 4002
CLOSE_SESSION_AGED: Final = 4003
CLOSE_POLICY: Final = 1008
CLOSE_SERVICE_RESTART: Final = 1012
CLOSE_SLOW_CONSUMER: Final = 1013

_REPLAY_PAGE: Final = 1000
_REPLAY = """
SELECT seq, topic, type, payload::text AS payload FROM outbox
 WHERE seq > $1 AND topic = ANY($2::text[]) ORDER BY seq LIMIT $3
"""
_CATCH_UP = """
SELECT seq, topic, type, payload::text AS payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2
"""
_HEAD = "SELECT coalesce(max(seq), 0) FROM outbox"


class _Header(msgspec.Struct):
    id: int
    topic: str


_header = msgspec.json.Decoder(_Header)
_resume = msgspec.json.Decoder(Resume)
_encode = msgspec.json.Encoder()
_PING: Final = _encode.encode(Ping())


class _Client:
    __slots__ = ("closes_at", "last_id", "pending", "topics", "ws")

    def __init__(self, ws: ServerConnection, topics: tuple[str, ...], last_id: int, closes_at: float) -> None:
        self.ws = ws
        self.topics = topics
        self.last_id = last_id
        self.closes_at = closes_at
        self.pending: list[bytes] | None = []


class Gateway:
    def __init__(
        self,
        *,
        secret: bytes,
        bus: Bus,
        dsn: str,
        clock: Callable[[], float] = time.time,
        max_pending: int = 10_000,
        max_write_buffer: int = 1 << 20,
        ping_interval_s: float = 25.0,
        resume_wait_s: float = 0.5,
        max_age_s: float = 3600.0,
    ) -> None:
        self.secret = secret
        self.bus = bus
        self.dsn = dsn
        self.clock = clock
        self.max_pending = max_pending
        self.max_write_buffer = max_write_buffer
        self.ping_interval_s = ping_interval_s
        self.resume_wait_s = resume_wait_s
        self.max_age_s = max_age_s
        self.head = 0
        self._by_topic: dict[str, set[_Client]] = {}
        self._clients: set[_Client] = set()
        self._pool: asyncpg.Pool | None = None
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()
        self._closing = False

    @property
    def connection_count(self) -> int:
        return len(self._clients)

    async def start(self, host: str, port: int) -> Server:
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
        self.head = await self._pool.fetchval(_HEAD)
        self._spawn(self._consume_bus())
        self._spawn(self._ping_forever())
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._probe,
            compression=None,  # per-message deflate costs ~64 KiB per socket
            ping_interval=None,  # one application-level ping task instead of a timer per socket
            max_size=4096,
            max_queue=4,
            close_timeout=2,
            backlog=4096,
        )
        return self._server

    def _probe(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP probes for load balancers and Kubernetes; anything else goes on to the websocket."""
        path = request.path.split("?", 1)[0]
        if path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path == "/ready":
            # Ready once subscribed to the bus: before that, events could be missed (they would be replayed).
            ok = self.subscribed.is_set() and not self._closing
            return connection.respond(
                HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, "ready\n" if ok else "starting\n"
            )
        return None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    async def close(self) -> None:
        """Graceful stop: tell every client to reconnect elsewhere (1012), then release resources."""
        self._closing = True
        if self._server is not None:
            self._server.close(close_connections=False)
            for client in list(self._clients):
                self._spawn(client.ws.close(CLOSE_SERVICE_RESTART, "server restart: reconnect and resume"))
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- connections ---------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        params = parse_qs(urlsplit(ws.request.path).query)
        try:
            claims = verify_ticket(self.secret, params.get("ticket", [""])[0], self.clock())
        except TicketError as exc:
            await ws.close(CLOSE_TICKET_EXPIRED if exc.expired else CLOSE_INVALID_TICKET, str(exc))
            return
        closes_at = self.clock() + self.max_age_s * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not secrecy
        client = _Client(ws, claims.topics, last_id=self.head, closes_at=closes_at)
        self._register(client)
        try:
            after = await self._starting_point(ws, params)
            if after is not None and after > self.head:
                # The client's cursor is from the future (e.g. a restored database): start over.
                await ws.send(_encode.encode(Resync(head=self.head)))
                client.last_id = self.head
                after = None
            await ws.send(_encode.encode(Welcome(head=client.last_id, topics=list(client.topics))))
            if after is not None:
                client.last_id = after
                await self._replay(client, after)
            while client.pending:
                buffered, client.pending = client.pending, []
                for message in buffered:
                    event_id = _header.decode(message).id
                    if event_id > client.last_id:
                        client.last_id = event_id
                        await ws.send(message, text=True)
            client.pending = None
            async for _ in ws:  # clients have nothing more to say; keep reading for the close
                pass
        except ConnectionClosed:
            pass
        finally:
            self._unregister(client)

    async def _starting_point(self, ws: ServerConnection, params: dict[str, list[str]]) -> int | None:
        """The cursor from `?after=` or a first `resume` message; None to start from now."""
        if "after" in params:
            raw: str | bytes = '{"type":"resume","after":' + params["after"][0] + "}"
        else:
            try:
                raw = await asyncio.wait_for(ws.recv(), self.resume_wait_s)
            except TimeoutError:
                return None
        try:
            return _resume.decode(raw).after
        except (msgspec.ValidationError, msgspec.DecodeError):
            await ws.close(CLOSE_POLICY, 'expected {"type":"resume","after":<event id>}')
            raise ConnectionClosed(None, None) from None

    def _register(self, client: _Client) -> None:
        self._clients.add(client)
        for topic in client.topics:
            self._by_topic.setdefault(topic, set()).add(client)

    def _unregister(self, client: _Client) -> None:
        self._clients.discard(client)
        for topic in client.topics:
            subscribers = self._by_topic.get(topic)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del self._by_topic[topic]

    def _drop_slow(self, client: _Client) -> None:
        self._unregister(client)
        self._spawn(client.ws.close(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect and resume"))

    async def _replay(self, client: _Client, after: int) -> None:
        assert self._pool is not None
        while True:
            rows = await self._pool.fetch(_REPLAY, after, list(client.topics), _REPLAY_PAGE)
            for row in rows:
                client.last_id = row["seq"]
                await client.ws.send(encode_event(row["seq"], row["topic"], row["type"], row["payload"]), text=True)
            if len(rows) < _REPLAY_PAGE:
                return
            after = rows[-1]["seq"]

    # -- events ----------------------------------------------------------------

    async def _consume_bus(self) -> None:
        async for message in self.bus.subscribe():
            if message == SUBSCRIBED:
                await self._catch_up()
                self.subscribed.set()
            else:
                self.route(message)

    async def _catch_up(self) -> None:
        """After (re)subscribing, deliver what was published while the subscription was down."""
        assert self._pool is not None
        since = min((c.last_id for c in self._clients), default=self.head)
        while True:
            try:
                rows = await self._pool.fetch(_CATCH_UP, since, _REPLAY_PAGE)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("catch-up query failed (%r); clients resume on reconnect", exc)
                return
            for row in rows:
                self.route(encode_event(row["seq"], row["topic"], row["type"], row["payload"]))
            if len(rows) < _REPLAY_PAGE:
                return
            since = rows[-1]["seq"]

    def route(self, message: bytes) -> None:
        header = _header.decode(message)
        if header.id > self.head:
            self.head = header.id
        subscribers = self._by_topic.get(header.topic)
        if not subscribers:
            return
        ready = []
        slow = []
        for client in subscribers:
            if header.id <= client.last_id:
                continue
            if client.pending is not None:
                client.pending.append(message)
                if len(client.pending) > self.max_pending:
                    slow.append(client)
                continue
            transport = client.ws.transport
            if transport is None or transport.get_write_buffer_size() > self.max_write_buffer:
                slow.append(client)
                continue
            client.last_id = header.id
            ready.append(client.ws)
        broadcast(ready, message, text=True)
        for client in slow:
            self._drop_slow(client)

    async def _ping_forever(self) -> None:
        """Keeps idle sockets open through proxies, and closes the ones past their age."""
        while True:
            await asyncio.sleep(self.ping_interval_s)
            now = self.clock()
            live = [c.ws for c in self._clients if c.pending is None]
            broadcast(live, _PING, text=True)
            for client in [c for c in self._clients if c.closes_at <= now]:
                client.closes_at = float("inf")  # closing once is enough
                self._spawn(client.ws.close(CLOSE_SESSION_AGED, "socket age: get a new ticket and resume"))


async def run_gateway(gateway: Gateway, host: str, port: int, stop: asyncio.Event) -> None:
    await gateway.start(host, port)
    log.info("gateway listening on ws://%s:%d", host, gateway.port)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await gateway.close()
