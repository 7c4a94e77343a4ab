"""Bench only: how many statements one HTTP request sent to PostgreSQL (issue 16's round trips).

On when MUSUBI_COUNT_STATEMENTS=true: each pooled connection carries a query logger
(backend/core/db.py) and this middleware answers the count in a `Musubi-Db-Statements` header. Each
statement asyncpg sends (BEGIN and COMMIT included) is one round trip to the server.
"""

from __future__ import annotations

import asyncio

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.db import statements_of_request

HEADER = b"musubi-db-statements"


class StatementCountMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        counter = [0]
        statements_of_request.set(counter)

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The loggers of the last statements are still queued (loop.call_soon): let them run.
                await asyncio.sleep(0)
                message = {**message, "headers": [*message.get("headers", []), (HEADER, str(counter[0]).encode())]}
            await send(message)

        await next_app(scope, receive, counted)
