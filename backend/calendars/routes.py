"""HTTP ↔ CalendarService. No rules here."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter

from backend.auth import PUBLIC, SIGNED_IN
from backend.calendars import ics
from backend.calendars.service import CalendarService, Feed
from backend.context import app_context
from backend.errors import NotFound
from backend.params import Me
from schema.calendars import CalendarFeed

Service = NamedDependency[CalendarService]
FeedFile = Annotated[str, PathParameter(description="The secret token of the feed, then `.ics`", max_length=60)]


def calendar_service(state: State) -> CalendarService:
    return CalendarService(app_context(state))


def _base_url(request: Request[Any, Any, Any]) -> str:
    configured: str | None = app_context(request.app.state).settings.public_url
    return configured or str(request.base_url)


def _answer(request: Request[Any, Any, Any], feed: Feed) -> Response[bytes]:
    headers = {
        "ETag": feed.etag,
        "Last-Modified": ics.http_date(feed.last_modified),
        # Personal: no shared cache keeps it, and every poll revalidates (a 304 is cheap).
        "Cache-Control": "private, no-cache",
    }
    if ics.not_modified(
        request.headers.get("if-none-match"), request.headers.get("if-modified-since"), feed.etag, feed.last_modified
    ):
        return Response(b"", status_code=304, headers=headers)
    # Litestar adds "; charset=utf-8" to text/* itself; naming it here too doubled it.
    return Response(feed.body, media_type="text/calendar", headers=headers)


@get("/v1/me/calendar.ics", access=SIGNED_IN, operation_id="myCalendar", media_type="text/calendar")
async def my_calendar(request: Request[Any, Any, Any], caller: Me, calendars: Service) -> Response[bytes]:
    """The caller's bookings and childcare reservations as an RFC 5545 calendar (a download; to subscribe,
    use the secret feed URL from `POST /v1/me/calendar-feed`)."""
    return _answer(request, await calendars.feed(caller.account_id, source=None))


@post(
    "/v1/me/calendar-feed",
    access=SIGNED_IN,
    operation_id="issueCalendarFeed",
    # The answer is the secret itself: a replay store must not keep it.
    idempotency=False,
)
async def issue_calendar_feed(request: Request[Any, Any, Any], caller: Me, calendars: Service) -> CalendarFeed:
    """A new secret subscription URL (and its webcal:// form) for calendar apps; the previous one stops working."""
    return await calendars.issue_feed(caller, _base_url(request))


@delete("/v1/me/calendar-feed", access=SIGNED_IN, operation_id="revokeCalendarFeed", status_code=204)
async def revoke_calendar_feed(caller: Me, calendars: Service) -> None:
    """Revoke the subscription URL: it answers 404 from now on."""
    await calendars.revoke_feed(caller)


@get(
    "/v1/calendar/{feed_file:str}",
    access=PUBLIC,
    operation_id="calendarFeed",
    media_type="text/calendar",
)
async def calendar_feed(request: Request[Any, Any, Any], feed_file: FeedFile, calendars: Service) -> Response[bytes]:
    """A person's calendar by its secret URL, for calendar apps that cannot send a login (webcal:// subscriptions).
    Conditional GETs (If-None-Match, If-Modified-Since) answer 304."""
    token, dot, extension = feed_file.rpartition(".")
    if not dot or extension != "ics":
        raise NotFound()
    account_id = await calendars.feed_owner(token)
    return _answer(request, await calendars.feed(account_id, source=_base_url(request).rstrip("/") + request.url.path))


router = Router(
    path="/",
    tags=["calendars"],
    route_handlers=[my_calendar, issue_calendar_feed, revoke_calendar_feed, calendar_feed],
    dependencies={"calendars": Provide(calendar_service, sync_to_thread=False)},
)
