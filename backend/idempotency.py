"""Idempotency-Key for every mutating POST, stored in PostgreSQL.

Phones on bad networks retry. The first request with a key claims it (an INSERT that only
one concurrent request can win), runs, and stores its response *before* sending it, so any
client that saw a 2xx can get the same answer again. A retry with the same key and body
gets that stored response; with a different body, 422. A duplicate arriving while the first
is still running waits for it (bounded), then replays its answer or says 409 "in progress".
5xx answers are not stored: the key is released so a retry can try again. A request that
dies mid-way (process killed) leaves a lease that runs out after `idempotency_lease_seconds`.

A handler whose response carries a secret (a login token) opts out with `idempotency=False`:
storing it would defeat keeping tokens only as hashes, and repeating such a POST is harmless.

Keys are scoped to the caller's account (or to "anonymous" before login), so a token
refreshed by re-login still replays, and one user's keys never collide with another's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta
from typing import Any, cast

from litestar.connection import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from backend.accounts.routes import resolve_caller
from backend.context import AppContext, app_context
from backend.errors import Conflict, DomainError, Unprocessable

log = logging.getLogger("musubi.idempotency")

HEADER = "idempotency-key"
_MAX_KEY_LENGTH = 200
_POLL_INTERVAL_S = 0.05
# Headers worth replaying; hop-by-hop and per-response ones are regenerated.
_KEPT_HEADERS = {b"content-type", b"location", b"retry-after", b"www-authenticate", b"etag"}

_CLAIM = """
INSERT INTO idempotency_keys (principal, key, request_hash, locked_until, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (principal, key) DO NOTHING
RETURNING true
"""
_LOOK = """
SELECT request_hash, locked_until, response_status, response_headers, response_body, created_at
  FROM idempotency_keys WHERE principal = $1 AND key = $2
"""
# Take over a key whose first request died (lease ran out) or expired past its TTL.
_TAKE_OVER = """
UPDATE idempotency_keys
   SET request_hash = $3, locked_until = $4, created_at = $5,
       response_status = NULL, response_headers = NULL, response_body = NULL
 WHERE principal = $1 AND key = $2
   AND ((response_status IS NULL AND locked_until < $5) OR created_at < $6)
RETURNING true
"""
_STORE = """
UPDATE idempotency_keys
   SET response_status = $3, response_headers = $4, response_body = $5, locked_until = NULL
 WHERE principal = $1 AND key = $2
"""
_RELEASE = "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND response_status IS NULL"


class _KeyError(DomainError):
    status = 400
    slug = "bad-idempotency-key"
    title = "Idempotency-Key must be 1–200 visible ASCII characters"


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


class IdempotencyMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        http_scope = cast("HTTPScope", scope)  # `scopes` above admits HTTP only
        if http_scope["method"] != "POST":
            await next_app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        key = request.headers.get(HEADER)
        if key is None or request.route_handler.opt.get("idempotency") is False:
            await next_app(scope, receive, send)
            return
        if not _valid_key(key):
            raise _KeyError()

        caller = await resolve_caller(request)
        principal = f"account:{caller.account_id}" if caller else "anonymous"
        handler = request.route_handler
        limit = handler.resolve_request_max_body_size() if isinstance(handler, HTTPRouteHandler) else None
        body, messages = await _read_body(receive, limit)
        request_hash = _request_hash(http_scope, body)
        ctx = app_context(request.app.state)

        stored = await self._claim_or_wait(ctx, principal, key, request_hash)
        if stored is not None:
            await self._replay(stored, send)
            return

        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        try:
            await next_app(scope, _replaying(messages, receive), capture)
        except BaseException:
            await self._release(ctx, principal, key)
            raise
        status = next(m["status"] for m in captured if m["type"] == "http.response.start")
        if status >= 500:
            await self._release(ctx, principal, key)
        else:
            start = next(m for m in captured if m["type"] == "http.response.start")
            headers = [
                [name.decode("latin-1"), value.decode("latin-1")]
                for name, value in start.get("headers", [])
                if name.lower() in _KEPT_HEADERS
            ]
            response_body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
            async with ctx.acquire() as conn:
                await conn.execute(_STORE, principal, key, status, headers, response_body)
        for message in captured:
            await send(message)

    async def _claim_or_wait(
        self, ctx: AppContext, principal: str, key: str, request_hash: bytes
    ) -> dict[str, Any] | None:
        """None when this request now owns the key; otherwise the stored response to replay."""
        settings = ctx.settings
        lease = timedelta(seconds=settings.idempotency_lease_seconds)
        ttl = timedelta(hours=settings.idempotency_ttl_hours)
        deadline = asyncio.get_running_loop().time() + settings.idempotency_wait_seconds
        while True:
            now = ctx.clock.now()
            async with ctx.acquire() as conn:
                if await conn.fetchval(_CLAIM, principal, key, request_hash, now + lease, now):
                    return None
                if await conn.fetchval(_TAKE_OVER, principal, key, request_hash, now + lease, now, now - ttl):
                    return None
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

    async def _release(self, ctx: AppContext, principal: str, key: str) -> None:
        try:
            async with ctx.acquire() as conn:
                await conn.execute(_RELEASE, principal, key)
        except Exception:  # the lease will run out instead
            log.warning("could not release idempotency key %s/%s", principal, key, exc_info=True)
