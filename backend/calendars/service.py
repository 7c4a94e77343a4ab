"""Calendar feeds: the secret subscription URL of each person, and the feed it serves."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from backend.calendars import ics, queries
from backend.core.auth import Caller
from backend.core.context import AppContext
from backend.core.errors import NotFound
from schema.calendars import CalendarFeed

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet. Anything else is
# refused before the database is asked.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class Feed:
    body: bytes
    etag: str
    last_modified: datetime


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def feed_path(token: str) -> str:
    return f"/v1/calendar/{token}.ics"


class CalendarService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def issue_feed(self, caller: Caller, base_url: str) -> CalendarFeed:
        """A new secret URL; the previous one (if any) stops working at once."""
        token = secrets.token_urlsafe(32)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            await conn.execute(queries.UPSERT_FEED, caller.account_id, _digest(token), now)
        url = base_url.rstrip("/") + feed_path(token)
        return CalendarFeed(url=url, webcal_url=re.sub(r"^https?://", "webcal://", url), created_at=now)

    async def revoke_feed(self, caller: Caller) -> None:
        async with self.ctx.acquire() as conn:
            await conn.execute(queries.DELETE_FEED, caller.account_id)

    async def feed_owner(self, token: str) -> int:
        """The account a feed token belongs to; 404 for a token never issued, replaced or revoked."""
        if not _TOKEN.match(token):
            raise NotFound()
        async with self.ctx.acquire() as conn:
            account_id: int | None = await conn.fetchval(queries.FEED_OWNER, _digest(token))
        if account_id is None:
            raise NotFound()
        return account_id

    async def feed(self, account_id: int, source: str | None) -> Feed:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            bookings = await conn.fetch(queries.BOOKINGS, account_id, now - ics.KEPT_FOR)
            childcare = await conn.fetch(queries.CHILDCARE, account_id, now - ics.KEPT_FOR)
            departed: datetime | None = await conn.fetchval(queries.LAST_DEPARTURE, account_id, now, ics.KEPT_FOR)
        body = ics.render(bookings, childcare, source)
        changes = [row["changed_at"] for row in (*bookings, *childcare)]
        if departed is not None:
            changes.append(departed)
        # An empty feed that never held anything: its one version dates from the epoch.
        last_modified = max(changes, default=datetime.fromtimestamp(0, now.tzinfo))
        return Feed(body=body, etag=ics.entity_tag(body), last_modified=last_modified)
