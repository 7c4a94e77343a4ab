"""Japan time, shared by the backend and the client.

Facilities open, lotteries run and childcare days begin by the Japanese clock, whatever zone a
phone or server runs in; every stored instant is UTC. The client shows the same local times the
backend reasons in, so both read them from here (the client never imports the backend).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), TOKYO)
    return start, datetime.combine(day + timedelta(days=1), time(), TOKYO)


def month_bounds(instant: datetime) -> tuple[datetime, datetime]:
    local = instant.astimezone(TOKYO)
    start = datetime(local.year, local.month, 1, tzinfo=TOKYO)
    following = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=TOKYO)
    return start, following


def local_date(instant: datetime) -> date:
    return instant.astimezone(TOKYO).date()


def local_hhmm(instant: datetime | str) -> str:
    """HH:MM in Japan time, for an instant or its RFC 3339 text."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    return moment.astimezone(TOKYO).strftime("%H:%M")
