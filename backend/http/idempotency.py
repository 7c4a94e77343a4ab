"""Idempotency-Key for every mutating POST, PATCH and DELETE, stored in PostgreSQL.

Phones on bad networks retry. The first request with a key claims it (an INSERT that only
one concurrent request can win), runs, and stores its response *before* sending it, so any
client that saw a 2xx can get the same answer again. A retry with the same key and body
gets that stored response; with a different body, 422. A duplicate arriving while the first
is still running waits for it (bounded), then replays its answer or says 409 "in progress".
5xx answers are not stored: the key is released so a retry can try again (a command that writes
its key itself, below, commits it with its change: a 5xx after that commit is answered by a
replay). A request that dies mid-way (process killed) leaves a lease that runs out after
`idempotency_lease_seconds`.

Replays are requests. The caller is resolved and the handler's guards run *before* a stored
answer is considered, so a caller who lost the role since gets 401/403 as a fresh request
would, not the first answer; a refused request claims no key. For a handler open to anyone
signed in, the session lookup claims the key in the same statement (a round trip saved on every
POST the client makes), which only a live session's account can do.

A handler declares what may be kept of its answer:
- `idempotency=False`: nothing; its response carries a secret (a login token) that storing
  would defeat keeping only as a hash, and repeating such a POST is harmless;
- `idempotency=Reread("/v1/things/{id}")`: its successful answer carries sealed personal data
  (a placed child's identity), so only the status and a reference to the resource (the path,
  filled from the answer's top-level fields) are kept. A replay re-reads the resource through
  that GET as the caller now is: row-level access (404), the audit row and today's contents
  come from the same path as any read. Client errors carry no such data and are kept whole.
- `idempotency=AnsweredByCommand("/v1/things/{id}")`: as `Reread`, but the handler's command writes
  the key with its change, in the same statement (backend/core/command_keys.py): no claim before
  and no store after, for the commands people rush on (a booking).

Keys are scoped to the caller's account (a token refreshed by re-login still replays, and one
user's keys never collide with another's) or, before login, to the client address, where they
are bounded (`max_anonymous_idempotency_keys`, 429 beyond) so nobody can fill the table.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import asyncpg
import msgspec
from litestar.connection import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from backend.core.auth import (
    CALLER_OF_SESSION,
    SIGNED_IN,
    TOUCH_SESSION,
    VERIFIED,
    Caller,
    access_rules,
    bearer_token,
    caller_from_row,
    fresh_caller,
    hash_token,
    remember_caller,
    remembered_caller,
    resolve_caller,
)
from backend.core.command_keys import CommandKey, hand_over
from backend.core.context import AppContext, app_context
from backend.core.errors import (
    Conflict,
    DomainError,
    TooManyRequests,
    Unprocessable,
    database_unavailable,
    unavailable_response,
)

log = logging.getLogger("musubi.idempotency")

HEADER = "idempotency-key"
# PUT answers the same whatever the repeats; the others change state once and must not twice.
_MUTATING = frozenset({"POST", "PATCH", "DELETE"})
_MAX_KEY_LENGTH = 200
_POLL_INTERVAL_S = 0.05
# Headers worth replaying; hop-by-hop and per-response ones are regenerated.
_KEPT_HEADERS = {b"content-type", b"location", b"retry-after", b"www-authenticate", b"etag"}
# A re-read is a GET with no body; the original request's body headers do not apply to it.
_NOT_FOR_REREAD = {b"content-length", b"content-type", b"transfer-encoding", b"expect", HEADER.encode()}

_CLAIM = """
INSERT INTO idempotency_keys (principal, key, request_hash, locked_until, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (principal, key) DO NOTHING
RETURNING true
"""
# Serialises the claims of one anonymous principal, so its count cannot be outrun by a burst.
_LOCK_PRINCIPAL = "SELECT pg_advisory_xact_lock(hashtextextended('idempotency:' || $1, 0))"
_KEY_EXISTS = "SELECT true FROM idempotency_keys WHERE principal = $1 AND key = $2"
_KEYS_OF_PRINCIPAL = """
SELECT count(*) AS count, min(created_at) AS oldest FROM idempotency_keys WHERE principal = $1 AND created_at > $2
"""
_LOOK = """
SELECT request_hash, locked_until, response_status, response_headers, response_body, response_ref, created_at
  FROM idempotency_keys WHERE principal = $1 AND key = $2
"""
# Take over a key whose first request died (lease ran out) or expired past its TTL.
_TAKE_OVER = """
UPDATE idempotency_keys
   SET request_hash = $3, locked_until = $4, created_at = $5,
       response_status = NULL, response_headers = NULL, response_body = NULL, response_ref = NULL
 WHERE principal = $1 AND key = $2
   AND ((response_status IS NULL AND locked_until < $5) OR created_at < $6)
RETURNING true
"""
_STORE = """
UPDATE idempotency_keys
   SET response_status = $3, response_headers = $4, response_body = $5, response_ref = $6, locked_until = NULL
 WHERE principal = $1 AND key = $2
"""
# A refusal of a handler whose command answers its key (AnsweredByCommand), kept after the fact:
# claimed and stored in one statement; nothing when the key was claimed meanwhile.
_CLAIM_ANSWERED = """
INSERT INTO idempotency_keys
       (principal, key, request_hash, response_status, response_headers, response_body, response_ref, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (principal, key) DO NOTHING
RETURNING true
"""
# The session lookup of backend/core/auth.py ($1 token hash, $2 now) and _CLAIM for that account, in one
# statement: a claim is only inserted for a live session's account.
_CALLER_CLAIMING = f"""
WITH {TOUCH_SESSION},
caller AS ({CALLER_OF_SESSION}),
claim AS (
    INSERT INTO idempotency_keys (principal, key, request_hash, locked_until, created_at)
    SELECT 'account:' || account_id, $3, $4, $5, $2 FROM caller
    ON CONFLICT (principal, key) DO NOTHING
    RETURNING true
)
SELECT caller.*, EXISTS (SELECT 1 FROM claim) AS claimed FROM caller
"""
# Handlers whose guard any live session passes (VERIFIED: a verified one), so the key can be claimed
# in the session lookup itself.
_OPEN_TO_SESSIONS = ((SIGNED_IN,), (VERIFIED,))
_RELEASE = "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND response_status IS NULL"
# A key whose first request died (lease run out, no answer), or past its time to live ($4): gone.
_FORGET_STALE = """
DELETE FROM idempotency_keys
 WHERE principal = $1 AND key = $2 AND ((response_status IS NULL AND locked_until < $3) OR created_at < $4)
RETURNING true
"""
# Old keys go in bounded batches, so the sweep never holds a long lock on a busy table.
_FORGET_OLDER_THAN = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000))
"""


async def forget_keys_older_than(conn: asyncpg.Connection, cutoff: datetime) -> None:
    """The sweeper's part: keys past their time to live (one batch)."""
    await conn.execute(_FORGET_OLDER_THAN, cutoff)


@dataclass(frozen=True, slots=True)
class Reread:
    """Keep only a reference to the answer; a replay re-reads it with this GET path.

    `path` is filled from the top-level fields of the JSON answer, e.g. "/v1/intake-requests/{id}".
    """

    path: str

    def reference(self, body: bytes) -> str | None:
        try:
            fields = msgspec.json.decode(body)
            # Ids only: a text field could carry "/" or "?" into the path.
            ids = {k: v for k, v in fields.items() if isinstance(v, int) and not isinstance(v, bool)}
            return self.path.format(**ids)
        except (msgspec.DecodeError, AttributeError, KeyError, IndexError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class AnsweredByCommand(Reread):
    """The handler's command writes the key with its change, in its own statement or transaction
    (backend/core/command_keys.py), for a signed-in caller; a replay re-reads `path`, whose `{id}` is
    the id of the row the command created. For anyone else the key is kept as for `Reread`."""


class _KeyError(DomainError):
    status = 400
    slug = "bad-idempotency-key"
    title = "Idempotency-Key must be 1–200 visible ASCII characters"


async def _send_unavailable(request: Request[Any, Any, Any], error: Exception, send: Send) -> None:
    """503 with Retry-After: the database failed after the handler's answer was captured, not sent."""
    problem = unavailable_response(request, error)
    await problem.to_asgi_response(app=None, request=request)(request.scope, request.receive, send)


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= _MAX_KEY_LENGTH and all(33 <= ord(ch) <= 126 for ch in key)


async def _read_body(receive: Receive, limit: int | None) -> tuple[bytes, list[ReceiveMessage]]:
    chunks: list[bytes] = []
    messages: list[ReceiveMessage] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise ClientException(status_code=413, detail=f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replaying(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _request_hash(scope: HTTPScope, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"], body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


async def _answer_of(next_app: ASGIApp, scope: Scope, receive: Receive) -> list[Message]:
    """The messages of the handler's answer, held back (to be kept before they are sent)."""
    captured: list[Message] = []

    async def capture(message: Message) -> None:
        captured.append(message)

    await next_app(scope, receive, capture)
    return captured


def _to_keep(
    declared: object, handler: object, captured: list[Message]
) -> tuple[int, list[list[str]], bytes | None, str | None] | None:
    """What a replay needs of an answer: status, headers, and its body or (Reread) its reference.
    None for an answer not to keep: a 5xx, or a Reread answer without the ids of its path."""
    start = next(m for m in captured if m["type"] == "http.response.start")
    status: int = start["status"]
    body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
    reference = None
    if isinstance(declared, Reread) and 200 <= status < 300:
        reference = declared.reference(body)
        if reference is None:
            log.error("%s: answer has no field for %r; not kept for replay", handler, declared.path)
            return None
    if status >= 500:
        return None
    headers = [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in start.get("headers", [])
        if name.lower() in _KEPT_HEADERS
    ]
    return status, headers, None if reference is not None else body, reference


class IdempotencyMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        http_scope = cast("HTTPScope", scope)  # `scopes` above admits HTTP only
        if http_scope["method"] not in _MUTATING:
            await next_app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        key = request.headers.get(HEADER)
        declared = request.route_handler.opt.get("idempotency")
        if key is None or declared is False:
            await next_app(scope, receive, send)
            return
        if not _valid_key(key):
            raise _KeyError()

        handler = request.route_handler
        ctx = app_context(request.app.state)
        limit = handler.resolve_request_max_body_size() if isinstance(handler, HTTPRouteHandler) else None
        body: bytes | None = None
        claimed = False
        token = bearer_token(request)
        by_command = isinstance(declared, AnsweredByCommand)
        if (
            token is not None
            and not by_command
            and access_rules(handler) in _OPEN_TO_SESSIONS
            and not remembered_caller(request)[0]
        ):
            # A live session passes a signed-in handler's guard (a verified one, a VERIFIED handler's), so
            # the session lookup claims the key in the same statement (one round trip): without a session
            # (401 below) nothing is claimed, and a claim the guard then refuses is released.
            body, messages = await _read_body(receive, limit)
            request_hash = _request_hash(http_scope, body)
            caller, claimed = await self._caller_claiming(ctx, token, key, request_hash)
            remember_caller(request, caller)
        # The same guards the handler runs, before any stored answer is looked at: a replay is a
        # request, and a refused request leaves no key behind.
        try:
            await handler.authorize_connection(request)
        except Exception:
            cached = remembered_caller(request)[1]
            if claimed and cached is not None:
                await self._release(ctx, f"account:{cached.account_id}", key)
            raise
        caller = await resolve_caller(request)
        if caller is not None:
            principal, cap = f"account:{caller.account_id}", None
        else:
            # The address as settled by MUSUBI_TRUSTED_PROXIES (backend/http/app.py), never a header.
            principal = "address:" + (request.client.host if request.client else "unknown")
            cap = ctx.settings.max_anonymous_idempotency_keys
        if body is None:
            body, messages = await _read_body(receive, limit)
            request_hash = _request_hash(http_scope, body)

        if by_command and caller is not None:
            assert isinstance(declared, AnsweredByCommand)
            status = handler.status_code if isinstance(handler, HTTPRouteHandler) else 201
            command = CommandKey(principal, key, request_hash, declared.path, status)
            if await self._answered_by_command(ctx, request, next_app, messages, send, declared, command):
                return
            # The key exists. One a request left behind (it died, or it is past its time to live) is
            # deleted and the command runs once more, writing it again; one that stands is replayed below.
            if await self._forget_stale(ctx, principal, key):
                command = CommandKey(principal, key, request_hash, declared.path, status)
                if await self._answered_by_command(ctx, request, next_app, messages, send, declared, command):
                    return

        # Claimed with the session, or else claimed here; an existing key is looked at and waited for.
        stored = None if claimed else await self._claim_or_wait(ctx, principal, key, request_hash, cap)
        if stored is not None:
            if caller is not None and caller.kept:
                await fresh_caller(request)  # a replay is a request: signed out since is 401, not the answer
            if stored["response_ref"] is not None:
                await self._reread(request, stored, send)
            else:
                await self._replay(stored, send)
            return

        try:
            captured = await _answer_of(next_app, scope, _replaying(messages, receive))
        except BaseException:
            await self._release(ctx, principal, key)
            raise
        kept = _to_keep(declared, handler, captured)
        if kept is None:
            await self._release(ctx, principal, key)
        else:
            try:
                async with ctx.acquire() as conn:
                    await conn.execute(_STORE, principal, key, *kept)
            except Exception as error:
                if not database_unavailable(error):
                    raise
                # The database went away between the handler's commit and keeping its answer (a
                # primary lost mid-request). Sending the 2xx now would promise a replay no retry could
                # get, so the client hears 503 and retries with its key. Answered here, not raised:
                # the handler's response has already "started" as far as Litestar can tell, and an
                # exception past that point would reach the client as a bare 500.
                await self._release(ctx, principal, key)
                await _send_unavailable(request, error, send)
                return
        for message in captured:
            await send(message)

    async def _answered_by_command(
        self,
        ctx: AppContext,
        request: Request[Any, Any, Any],
        next_app: ASGIApp,
        messages: list[ReceiveMessage],
        send: Send,
        declared: AnsweredByCommand,
        command: CommandKey,
    ) -> bool:
        """Run the handler with the key handed to its command. True when answered; False when the key
        existed (the command changed nothing, or a refusal found it claimed meanwhile): the stored
        answer is then looked at as for any key."""
        hand_over(request, command)
        try:
            captured = await _answer_of(next_app, request.scope, _replaying(messages, request.receive))
        finally:
            hand_over(request, None)
        if command.taken:
            return False
        kept = None if command.answered else _to_keep(declared, request.route_handler, captured)
        # A kept caller read afresh and refused (signed out or unverified meanwhile) claims no key, as
        # a request the guard refuses claims none.
        if kept is not None and kept[0] not in (401, 403):
            try:
                async with ctx.acquire() as conn:
                    claimed = await conn.fetchval(
                        _CLAIM_ANSWERED, command.principal, command.key, command.request_hash, *kept, ctx.clock.now()
                    )
            except Exception as error:
                if not database_unavailable(error):
                    raise
                # A refusal that cannot be kept is not sent either (a retry could be answered
                # otherwise): the client hears 503 and retries with its key, as in `handle`.
                await _send_unavailable(request, error, send)
                return True
            if not claimed:
                return False
        for message in captured:
            await send(message)
        return True

    async def _forget_stale(self, ctx: AppContext, principal: str, key: str) -> bool:
        """Delete the key when its first request died (lease run out, no answer) or it is past its time to
        live, so the command can write it again; False when the key stands (to be replayed)."""
        now = ctx.clock.now()
        cutoff = now - timedelta(hours=ctx.settings.idempotency_ttl_hours)
        async with ctx.acquire() as conn:
            return bool(await conn.fetchval(_FORGET_STALE, principal, key, now, cutoff))

    async def _caller_claiming(
        self, ctx: AppContext, token: str, key: str, request_hash: bytes
    ) -> tuple[Caller | None, bool]:
        """The caller behind the token and whether the key is now theirs (False: it exists, or no caller)."""
        now = ctx.clock.now()
        lease = timedelta(seconds=ctx.settings.idempotency_lease_seconds)
        async with ctx.acquire() as conn:
            row = await conn.fetchrow(_CALLER_CLAIMING, hash_token(token), now, key, request_hash, now + lease)
        if row is None:
            return None, False
        return caller_from_row(row), bool(row["claimed"])

    async def _claim(self, ctx: AppContext, principal: str, key: str, request_hash: bytes, cap: int | None) -> bool:
        """True when this request now owns the key; False when it exists (to be looked at)."""
        now = ctx.clock.now()
        lease = timedelta(seconds=ctx.settings.idempotency_lease_seconds)
        ttl = timedelta(hours=ctx.settings.idempotency_ttl_hours)
        async with ctx.acquire() as conn:
            if cap is None:
                # A signed-in caller's claim is one statement (one round trip, no BEGIN/COMMIT); the
                # take-over, a second statement, is only for a key that already exists.
                if await conn.fetchval(_CLAIM, principal, key, request_hash, now + lease, now):
                    return True
                return bool(await conn.fetchval(_TAKE_OVER, principal, key, request_hash, now + lease, now, now - ttl))
            async with conn.transaction():
                await conn.execute(_LOCK_PRINCIPAL, principal)
                if await conn.fetchval(_KEY_EXISTS, principal, key) is None:
                    kept = await conn.fetchrow(_KEYS_OF_PRINCIPAL, principal, now - ttl)
                    if kept["count"] >= cap:
                        raise TooManyRequests(
                            "Too many Idempotency-Keys from this address; retry later, or send no key.",
                            slug="too-many-idempotency-keys",
                            retry_after_s=int((kept["oldest"] + ttl - now).total_seconds()) + 1,
                        )
                if await conn.fetchval(_CLAIM, principal, key, request_hash, now + lease, now):
                    return True
                return bool(await conn.fetchval(_TAKE_OVER, principal, key, request_hash, now + lease, now, now - ttl))

    async def _claim_or_wait(
        self, ctx: AppContext, principal: str, key: str, request_hash: bytes, cap: int | None
    ) -> dict[str, Any] | None:
        """None when this request now owns the key; otherwise the stored response to replay."""
        deadline = asyncio.get_running_loop().time() + ctx.settings.idempotency_wait_seconds
        while True:
            if await self._claim(ctx, principal, key, request_hash, cap):
                return None
            async with ctx.acquire() as conn:
                row = await conn.fetchrow(_LOOK, principal, key)
            if row is None:
                continue  # released between our claim and look: claim again
            if row["request_hash"] != request_hash:
                raise Unprocessable(
                    "This Idempotency-Key was already used with a different request.",
                    slug="idempotency-key-reused",
                    title="Idempotency-Key reused with a different body",
                )
            if row["response_status"] is not None:
                return dict(row)
            if asyncio.get_running_loop().time() >= deadline:
                raise Conflict(
                    "The first request with this Idempotency-Key is still running; retry shortly.",
                    slug="request-in-progress",
                    title="Request in progress",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(_POLL_INTERVAL_S)

    async def _replay(self, stored: dict[str, Any], send: Send) -> None:
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in stored["response_headers"]]
        body: bytes = stored["response_body"]
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": stored["response_status"], "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _reread(self, request: Request[Any, Any, Any], stored: dict[str, Any], send: Send) -> None:
        """Answer a replay by reading the stored reference through the app, as this caller now is."""
        path, _, query = str(stored["response_ref"]).partition("?")
        scope = request.scope
        read_scope = cast(
            "HTTPScope",
            {
                "type": "http",
                "asgi": scope["asgi"],
                "http_version": scope["http_version"],
                "method": "GET",
                "scheme": scope["scheme"],
                "path": path,
                "raw_path": path.encode(),
                "root_path": scope.get("root_path", ""),
                "query_string": query.encode(),
                # The caller's credentials and language; not the body's headers, nor forwarding
                # headers (the client address was settled for the original request).
                "headers": [
                    (name, value)
                    for name, value in scope["headers"]
                    if name.lower() not in _NOT_FOR_REREAD and not name.lower().startswith(b"x-forwarded-")
                ],
                "client": scope.get("client"),
                "server": scope.get("server"),
                "state": {},
                "extensions": scope.get("extensions") or {},
            },
        )

        async def no_body() -> ReceiveMessage:
            return {"type": "http.request", "body": b"", "more_body": False}

        answer: list[Message] = []

        async def capture(message: Message) -> None:
            answer.append(message)

        await request.app(read_scope, no_body, capture)
        start = next(m for m in answer if m["type"] == "http.response.start")
        if not 200 <= start["status"] < 300:
            for message in answer:  # what a fresh request would be told now (401, 403, 404)
                await send(message)
            return
        body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
        await self._replay({**stored, "response_body": body}, send)

    async def _release(self, ctx: AppContext, principal: str, key: str) -> None:
        try:
            async with ctx.acquire() as conn:
                await conn.execute(_RELEASE, principal, key)
        except Exception:  # the lease will run out instead
            log.warning("could not release idempotency key %s/%s", principal, key, exc_info=True)
