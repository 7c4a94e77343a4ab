"""A person's calendar as RFC 5545 text, and the HTTP validators that let calendar apps poll it.

The feed has no METHOD: it is a published calendar, not a scheduling message (RFC 5546), so
subscribers replace their copy of each event by UID whenever SEQUENCE or LAST-MODIFIED moves
on. A cancelled booking therefore stays in the feed as STATUS:CANCELLED for a while instead of
vanishing: a copy imported earlier (or a client that keeps events it no longer sees) only
learns of the cancellation that way.

The text depends on nothing but the rows (DTSTAMP is the row's last change, not the time of
the request), so the same data always gives the same bytes and the same ETag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import asyncpg
from icalendar import Calendar, Event, vDuration

from backend.childcare.service import BLOCKS
from backend.facilities.slots import TOKYO

# How long cancelled entries, and events that have taken place, stay in the feed.
KEPT_FOR = timedelta(days=30)
# How often subscribers are asked to poll (RFC 7986 REFRESH-INTERVAL, and its older Microsoft name).
REFRESH_EVERY = timedelta(hours=1)
UID_DOMAIN = "musubi.jp"

_BLOCK_NAMES = {"morning": "午前", "afternoon": "午後", "full_day": "終日"}


def _base_calendar(source: str | None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Musubi//Bookings and childcare//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", "Musubi 予約")
    calendar.add("x-wr-calname", "Musubi 予約")
    calendar.add("x-wr-timezone", "Asia/Tokyo")
    calendar.add("refresh-interval", vDuration(REFRESH_EVERY), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_EVERY))
    if source is not None:
        calendar.add("source", source, parameters={"VALUE": "URI"})
    return calendar


def _event(uid: str, row: asyncpg.Record, start: datetime, end: datetime, status: str) -> Event:
    event = Event()
    event.add("uid", f"{uid}@{UID_DOMAIN}")
    # Without METHOD, DTSTAMP is when the information last changed (RFC 5545 §3.8.7.2).
    event.add("dtstamp", row["changed_at"].astimezone(UTC))
    event.add("last-modified", row["changed_at"].astimezone(UTC))
    event.add("created", row["created_at"].astimezone(UTC))
    event.add("sequence", row["sequence"])
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("status", status)
    return event


def _japan_time(instant: datetime) -> str:
    return instant.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")


def _booking_event(row: asyncpg.Record) -> Event:
    status = {"confirmed": "CONFIRMED", "provisional": "TENTATIVE"}.get(row["status"], "CANCELLED")
    event = _event(f"booking-{row['id']}", row, row["start"], row["end"], status)
    summary = f"{row['facility_name']} {row['resource_name']}"
    event.add("summary", f"【取消】{summary}" if status == "CANCELLED" else summary)
    event.add("location", row["address"])
    event.add("geo", (row["lat"], row["lon"]))
    lines = [f"予約番号 {row['id']}"]
    if row["status"] == "provisional":
        lines.append(
            f"仮予約: {_japan_time(row['pay_by'])} (日本時間) までに料金 {row['fee']:,} 円をお支払いください。"
            " 期限を過ぎると予約は取り消されます。"
            f" / Provisional: pay ¥{row['fee']:,} by {row['pay_by'].astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            " or the booking is released."
        )
    elif row["status"] == "released":
        lines.append("お支払い期限を過ぎたため取り消されました。 / Released: not paid by the deadline.")
    elif row["status"] == "cancelled":
        lines.append("取り消されました。 / Cancelled.")
    event.add("description", "\n".join(lines))
    return event


def _childcare_event(row: asyncpg.Record) -> Event:
    opens, hours = BLOCKS[row["block"]]
    start = datetime.combine(row["day"], opens, TOKYO)
    status = "CANCELLED" if row["status"] in ("cancelled", "released") else "CONFIRMED"
    event = _event(f"childcare-{row['id']}", row, start, start + timedelta(hours=hours), status)
    summary = f"一時預かり保育 {row['nursery_name']} ({_BLOCK_NAMES[row['block']]})"
    event.add("summary", f"【取消】{summary}" if status == "CANCELLED" else summary)
    event.add("location", row["nursery_name"])
    cancelled = "\n取り消されました。 / Cancelled." if status == "CANCELLED" else ""
    event.add("description", f"予約番号 {row['id']}{cancelled}")
    return event


def render(bookings: Sequence[asyncpg.Record], childcare: Sequence[asyncpg.Record], source: str | None) -> bytes:
    calendar = _base_calendar(source)
    events = [_booking_event(row) for row in bookings] + [_childcare_event(row) for row in childcare]
    for event in sorted(events, key=lambda e: (e.decoded("dtstart"), str(e["uid"]))):
        calendar.add_component(event)
    body: bytes = calendar.to_ical()
    return body


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def http_date(instant: datetime) -> str:
    return format_datetime(instant.astimezone(UTC).replace(microsecond=0), usegmt=True)


def not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: datetime) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if if_none_match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or etag in wanted
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False  # an unreadable date is ignored, as the RFC says
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False
