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

Tickets open one socket, once: the gateway claims the ticket's id on the bus (Redis SET NX
EX for the ticket's remaining lifetime, shared by every replica; in-process with memory://)
and refuses a second use with 4001. When access ends — a logout, or a membership removed or
changed — the API writes a `LiveAccessRevoked` event on the control topic in the same
transaction; it reaches every replica through the relay like any event, is never routed to a
socket, and makes the gateway close the matching live sockets at once (4004) and refuse the
matching unused tickets (4001) for as long as they could still be valid. A gateway that
starts later reads the recent ones from the outbox before it accepts sockets.

Resume (`after`) replays only what the ticket may see now. For each of its topics, an event
is replayed only if it was written
  - at or after the ticket's `since` for that topic: the moment the ticket's login session
    began (to the second), or for an organisation's or a board's topic the moment the
    caller's membership granting it began, if that is later; and
  - within the last `replay_window_s` (the retention of replay; a client away longer
    refetches its state over HTTP).
So `after=0` on a new session gets nothing from before that session, nor from before the
membership that lets it see the topic. Live events are written after the ticket was issued
and always pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qs, urlsplit

import asyncpg
import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import OPEN

from realtime import metrics, outbox_reads
from realtime.bus import SUBSCRIBED, Bus, BusUnavailable
from realtime.relay import encode_event
from realtime.tickets import TicketClaims, TicketError, verify_ticket
from schema.events import LiveAccessRevoked
from schema.realtime import CONTROL_TOPIC, Ping, Resume, Resync, Welcome

log = logging.getLogger("musubi.gateway")

CLOSE_INVALID_TICKET: Final = 4001
CLOSE_TICKET_EXPIRED: Final = 4002
CLOSE_SESSION_AGED: Final = 4003
CLOSE_ACCESS_REVOKED: Final = 4004
CLOSE_POLICY: Final = 1008
CLOSE_SERVICE_RESTART: Final = 1012
CLOSE_SLOW_CONSUMER: Final = 1013

_REPLAY_PAGE: Final = 1000
_REPLAY = """
SELECT o.seq, o.topic, o.type, o.payload::text AS payload
  FROM outbox o JOIN unnest($2::text[], $3::timestamptz[]) AS t(topic, since) ON o.topic = t.topic
 WHERE o.seq > $1 AND o.created_at >= t.since ORDER BY o.seq LIMIT $4
"""
_CATCH_UP = """
SELECT seq, topic, type, payload::text AS payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2
"""
_RECENT_CONTROL = """
SELECT seq, topic, type, payload::text AS payload FROM outbox
 WHERE topic = $1 AND seq IS NOT NULL AND created_at > $2 ORDER BY seq
"""
_TICKET_KEY: Final = "musubi:ticket:"
# Revocations are kept this long past the ticket lifetime, for clock skew between API and gateway.
_REVOCATION_MARGIN_S: Final = 60.0


class _Header(msgspec.Struct):
    id: int
    topic: str


class _Control(msgspec.Struct):
    data: LiveAccessRevoked


_header = msgspec.json.Decoder(_Header)
_control = msgspec.json.Decoder(_Control)
_resume = msgspec.json.Decoder(Resume)
_encode = msgspec.json.Encoder()
_PING_FRAME: Final = Frame(Opcode.TEXT, _encode.encode(Ping())).serialize(mask=False)


def _text_frame(message: bytes) -> bytes:
    """The message as the single unmasked text frame a server sends (RFC 6455 §5.2)."""
    return Frame(Opcode.TEXT, message).serialize(mask=False)


class _Client:
    __slots__ = ("claims", "closes_at", "last_id", "pending", "topics", "ws")

    def __init__(self, ws: ServerConnection, claims: TicketClaims, last_id: int, closes_at: float) -> None:
        self.ws = ws
        self.claims = claims
        self.topics = claims.topics
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
        ticket_ttl_s: float = 60.0,
        replay_window_s: float = 86_400.0,
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
        self.ticket_ttl_s = ticket_ttl_s
        self.replay_window_s = replay_window_s
        self.head = 0
        # Ended access, remembered while its tickets could still be valid: session id → forget at,
        # account id → (tickets issued up to this second are refused, forget at).
        self._revoked_sessions: dict[int, float] = {}
        self._revoked_accounts: dict[int, tuple[int, float]] = {}
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
        self.head = await self._pool.fetchval(outbox_reads.HEAD)
        # Access that ended before this gateway started still refuses its tickets; anything
        # stamped after `head` comes through the bus or the catch-up.
        remembered = datetime.fromtimestamp(self.clock() - self.ticket_ttl_s - _REVOCATION_MARGIN_S, UTC)
        for row in await self._pool.fetch(_RECENT_CONTROL, CONTROL_TOPIC, remembered):
            self.route(encode_event(row["seq"], row["topic"], row["type"], row["payload"]))
        self._spawn(self._consume_bus())
        self._spawn(self._ping_forever())
        self._server = await serve(
            self._handle_observed,
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
        if path == "/metrics":
            metrics.GATEWAY_SOCKETS.set(self.connection_count)
            return connection.respond(HTTPStatus.OK, metrics.exposition().decode())
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

    async def _handle_observed(self, ws: ServerConnection) -> None:
        try:
            await self._handle(ws)
        finally:
            metrics.GATEWAY_CLOSES.labels(_close_code(ws)).inc()

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        params = parse_qs(urlsplit(ws.request.path).query)
        try:
            claims = verify_ticket(self.secret, params.get("ticket", [""])[0], self.clock())
        except TicketError as exc:
            await ws.close(CLOSE_TICKET_EXPIRED if exc.expired else CLOSE_INVALID_TICKET, str(exc))
            return
        if CONTROL_TOPIC in claims.topics:
            await ws.close(CLOSE_INVALID_TICKET, "bad ticket")
            return
        try:
            first_use = await self.bus.claim_once(_TICKET_KEY + claims.jti, math.ceil(claims.exp - self.clock()))
        except BusUnavailable as exc:
            # Fail closed: without the record of used tickets, a copied ticket could be replayed.
            log.warning("cannot record ticket use (%r); refusing the socket", exc)
            await ws.close(CLOSE_SLOW_CONSUMER, "try again later")
            return
        if not first_use:
            await ws.close(CLOSE_INVALID_TICKET, "ticket already used")
            return
        # No await from this check to registration: a revocation routed meanwhile either is seen
        # here or finds the client registered and closes it.
        if self._revoked(claims):
            await ws.close(CLOSE_INVALID_TICKET, "ticket revoked")
            return
        closes_at = self.clock() + self.max_age_s * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not secrecy
        client = _Client(ws, claims, last_id=self.head, closes_at=closes_at)
        self._register(client)
        metrics.GATEWAY_ACCEPTED.inc()
        try:
            after = await self._starting_point(ws, params)
            if after is not None and after > self.head:
                # The client's cursor is from the future (e.g. a restored database): start over.
                await ws.send(_encode.encode(Resync(head=self.head)), text=True)
                client.last_id = self.head
                after = None
            await ws.send(_encode.encode(Welcome(head=client.last_id, topics=list(client.topics))), text=True)
            if after is not None:
                metrics.GATEWAY_RESUMES.inc()
                # Every event up to `head` is in the table, so the replay covers it; without this,
                # a replay that found nothing to send would leave the cursor at `after`, and a later
                # catch-up would route old events past the floors below.
                covered = self.head
                client.last_id = after
                await self._replay(client, after)
                client.last_id = max(client.last_id, covered)
            while client.pending:
                buffered, client.pending = client.pending, []
                for message in buffered:
                    event_id = _header.decode(message).id
                    if event_id > client.last_id:
                        client.last_id = event_id
                        await ws.send(message, text=True)
                        metrics.GATEWAY_DELIVERIES.inc()
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
        metrics.GATEWAY_SLOW_CLOSES.inc()
        self._unregister(client)
        self._spawn(client.ws.close(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect and resume"))

    async def _replay(self, client: _Client, after: int) -> None:
        assert self._pool is not None
        window_start = self.clock() - self.replay_window_s
        floors = [datetime.fromtimestamp(max(since, window_start), UTC) for since in client.claims.since]
        while True:
            rows = await self._pool.fetch(_REPLAY, after, list(client.topics), floors, _REPLAY_PAGE)
            metrics.GATEWAY_REPLAYED.inc(len(rows))
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
                metrics.GATEWAY_BUS_RESUBSCRIBES.inc()
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
        if header.topic == CONTROL_TOPIC:
            self._revoke(message)
            return
        subscribers = self._by_topic.get(header.topic)
        if not subscribers:
            return
        # Framed once here, then copied into each socket's transport: websockets' `broadcast()`
        # builds and serialises a frame per connection, which at 10,000 sockets is most of the
        # cost. Writing a pre-framed message directly is sound because the sockets have no
        # extensions (compression=None), the gateway never sends fragmented messages, and every
        # websockets send writes its whole frame synchronously, so frames never interleave.
        frame = _text_frame(message)
        event_id = header.id
        limit = self.max_write_buffer
        slow = []
        delivered = 0
        for client in subscribers:
            if event_id <= client.last_id:
                continue
            if client.pending is not None:
                client.pending.append(message)
                if len(client.pending) > self.max_pending:
                    slow.append(client)
                continue
            ws = client.ws
            if ws.protocol.state is not OPEN:
                continue  # closing: its handler unregisters it
            transport = ws.transport
            if transport.get_write_buffer_size() > limit:
                slow.append(client)
                continue
            client.last_id = event_id
            transport.write(frame)
            delivered += 1
        metrics.GATEWAY_DELIVERIES.inc(delivered)
        for client in slow:
            self._drop_slow(client)

    # -- ended access ----------------------------------------------------------

    def _revoke(self, message: bytes) -> None:
        """Act on a LiveAccessRevoked (maybe again: delivery is at least once, and this is idempotent)."""
        try:
            event = _control.decode(message).data
        except (msgspec.ValidationError, msgspec.DecodeError):
            log.warning("ignoring an unknown control message: %r", message[:200])
            return
        forget_at = event.issued_up_to + self.ticket_ttl_s + _REVOCATION_MARGIN_S
        if event.session_id is not None:
            self._revoked_sessions[event.session_id] = forget_at
        else:
            known = self._revoked_accounts.get(event.account_id)
            if known is None or known[0] < event.issued_up_to:
                self._revoked_accounts[event.account_id] = (event.issued_up_to, forget_at)
        for client in [c for c in self._clients if self._revoked(c.claims)]:
            self._unregister(client)  # nothing more reaches it, even before the close completes
            self._spawn(client.ws.close(CLOSE_ACCESS_REVOKED, "access ended: sign in or get a new ticket"))

    def _revoked(self, claims: TicketClaims) -> bool:
        if claims.sid in self._revoked_sessions:
            return True
        account = self._revoked_accounts.get(claims.sub)
        return account is not None and claims.iat <= account[0]

    def _forget_old_revocations(self, now: float) -> None:
        self._revoked_sessions = {sid: until for sid, until in self._revoked_sessions.items() if until > now}
        self._revoked_accounts = {a: entry for a, entry in self._revoked_accounts.items() if entry[1] > now}

    async def _ping_forever(self) -> None:
        """Keeps idle sockets open through proxies, and closes the ones past their age."""
        while True:
            await asyncio.sleep(self.ping_interval_s)
            now = self.clock()
            self._forget_old_revocations(now)
            for client in self._clients:
                if client.pending is None and client.ws.protocol.state is OPEN:
                    client.ws.transport.write(_PING_FRAME)
            for client in [c for c in self._clients if c.closes_at <= now]:
                client.closes_at = float("inf")  # closing once is enough
                self._spawn(client.ws.close(CLOSE_SESSION_AGED, "socket age: get a new ticket and resume"))


def _close_code(ws: ServerConnection) -> str:
    """The code of the close frame this side sent (an echo of the client's, if it closed first);
    1006 when the connection simply dropped."""
    frame = ws.protocol.close_sent or ws.protocol.close_rcvd
    return str(frame.code) if frame is not None else "1006"


async def run_gateway(gateway: Gateway, host: str, port: int, stop: asyncio.Event) -> None:
    await gateway.start(host, port)
    log.info("gateway listening on ws://%s:%d", host, gateway.port)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await gateway.close()
