"""The prefecture's dashboard: de-identified weekly aggregates, never a person."""

from datetime import date, datetime

import msgspec

from schema.base import Wire


class BookingWeek(Wire):
    week: date  # the Monday (Asia/Tokyo) starting the week
    municipality_id: int
    facility_kind: str
    bookings: int
    booked_hours: float
    open_hours: float
    utilisation: float | None  # booked / open hours


class ChildcareWeek(Wire):
    week: date
    band: str
    capacity: int
    reserved: int
    fill_rate: float | None


class IntakeWeek(Wire):
    week: date
    requests: int
    placed: int
    cancelled: int
    median_minutes_to_placement: float | None
    mean_minutes_to_placement: float | None


class EmsWeek(Wire):
    week: date
    cases: int
    cases_with_requests: int
    mean_inquiries_per_case: float | None
    cases_needing_4_or_more: int
    share_needing_4_or_more: float | None


class StatsOverview(Wire):
    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    bookings: list[BookingWeek]
    childcare: list[ChildcareWeek]
    intake: list[IntakeWeek]
    ems: list[EmsWeek]
