"""Booking units in local time. Facilities open by the Japanese clock (Asia/Tokyo), whatever
zone a phone sends its times in; all stored instants are UTC ranges."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from schema.base import FieldError
from schema.facilities import Vacancy, VacancyState
from schema.time import TOKYO as TOKYO
from schema.time import day_bounds as day_bounds
from schema.time import local_date as local_date
from schema.time import month_bounds as month_bounds

MAX_UNITS_PER_BOOKING = 8


def units_of_day(day: date, opens_at: time, closes_at: time, unit_minutes: int) -> list[tuple[datetime, datetime]]:
    """The bookable units of a resource's day (its hours in Asia/Tokyo), as instants in UTC: as on the
    wire and as asyncpg reads the bookings, and comparing datetimes of one zone needs no zone lookup
    (comparing these with Tokyo's took a third of a vacancy search's time)."""
    start = datetime.combine(day, opens_at, TOKYO).astimezone(UTC)
    closes = datetime.combine(day, closes_at, TOKYO).astimezone(UTC)
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


def opens_for_booking(day: date, months: int) -> datetime:
    """受付開始: midnight (Asia/Tokyo) `months` months before `day`, the day clamped to the month's
    end (31 March − 1 month opens on 28/29 February), as the database's booking_opens_at does."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return datetime.combine(date(year, month + 1, min(day.day, last_day)), time(), TOKYO)


def vacancies_of_day(resources: Sequence[Mapping[str, Any]], day: date, now: datetime) -> list[Vacancy]:
    """Every unit of `day` of each resource (a VACANCIES_OF_DAY row): booked over held over free, then
    closed where the resource or a closure closes it, with when the unit opens for booking if not yet."""
    vacancies = []
    for row in resources:
        resident, non_resident = row["resident_horizon_months"], row["non_resident_horizon_months"]
        non_resident = non_resident or resident
        opens, opens_elsewhere = _not_open_yet(day, resident, now), _not_open_yet(day, non_resident, now)
        for start, end in units_of_day(day, row["opens_at"], row["closes_at"], row["unit_minutes"]):
            state: VacancyState = "free"
            if _overlaps(row["booked"], start, end):
                state = "booked"
            elif _overlaps(row["held"], start, end):
                state = "held"
            if row["closed"] or _overlaps(row["closures"], start, end):
                state = "closed"
            vacancies.append(
                Vacancy(
                    resource_id=row["id"],
                    facility_id=row["facility_id"],
                    start=start,
                    end=end,
                    state=state,
                    opens_for_booking_at=opens,
                    opens_for_non_residents_at=opens_elsewhere,
                )
            )
    return vacancies


def _overlaps(ranges: Sequence[Any], start: datetime, end: datetime) -> bool:
    return any(taken.lower < end and start < taken.upper for taken in ranges)


def _not_open_yet(day: date, months: int | None, now: datetime) -> datetime | None:
    """When `day` opens for booking `months` ahead (UTC), unless it has or there is no horizon."""
    if months is None:
        return None
    opens = opens_for_booking(day, months)
    return opens.astimezone(UTC) if opens > now else None
