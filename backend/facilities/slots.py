"""Booking units in local time. Facilities open by the Japanese clock (Asia/Tokyo), whatever
zone a phone sends its times in; all stored instants are UTC ranges."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from schema.base import FieldError
from schema.time import TOKYO as TOKYO
from schema.time import day_bounds as day_bounds
from schema.time import local_date as local_date
from schema.time import month_bounds as month_bounds

MAX_UNITS_PER_BOOKING = 8


def units_of_day(day: date, opens_at: time, closes_at: time, unit_minutes: int) -> list[tuple[datetime, datetime]]:
    start = datetime.combine(day, opens_at, TOKYO)
    closes = datetime.combine(day, closes_at, TOKYO)
    step = timedelta(minutes=unit_minutes)
    units = []
    while start + step <= closes:
        units.append((start, start + step))
        start += step
    return units


def slot_problems(
    start: datetime, end: datetime, opens_at: time, closes_at: time, unit_minutes: int, now: datetime
) -> list[FieldError]:
    """Why [start, end) is not a bookable run of whole units on one opening day; [] when it is."""
    if end <= start:
        return [FieldError(field="$.end", message="Must be after start")]
    if start < now:
        return [FieldError(field="$.start", message="Is in the past")]
    local_start, local_end = start.astimezone(TOKYO), end.astimezone(TOKYO)
    opens = datetime.combine(local_start.date(), opens_at, TOKYO)
    closes = datetime.combine(local_start.date(), closes_at, TOKYO)
    if local_start < opens or local_end > closes:
        return [FieldError(field="$.start", message=f"Outside opening hours {opens_at:%H:%M}–{closes_at:%H:%M} JST")]
    unit = timedelta(minutes=unit_minutes)
    if (local_start - opens) % unit or (end - start) % unit:
        return [FieldError(field="$.start", message=f"Must start and end on {unit_minutes}-minute units from opening")]
    if (end - start) // unit > MAX_UNITS_PER_BOOKING:
        return [FieldError(field="$.end", message=f"At most {MAX_UNITS_PER_BOOKING} units in one booking")]
    return []
