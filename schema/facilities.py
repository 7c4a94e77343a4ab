"""Facilities, resources, bookings and the waitlist (public-facility booking)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal

import msgspec

from schema.base import Id, Input, Wire

FacilityKind = Literal["gym", "court", "meeting_room", "pool", "field", "hall", "studio", "other"]
BookingStatus = Literal["held", "provisional", "confirmed", "cancelled", "released"]
VacancyState = Literal["free", "held", "booked"]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Yen = Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
Hours = Annotated[int, msgspec.Meta(ge=0, le=24 * 90)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
Percent = Annotated[int, msgspec.Meta(ge=1, le=100)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
# Times of day and instants: instants must carry an offset, so no one books 9:00 in the wrong zone.
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
# A wall-clock time in Japan, as people type it: "09:00" or "09:00:00". msgspec's own time type
# insists on seconds, so the text is checked here and read with `time_of_day`.
TimeOfDay = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        description="Time of day in Asia/Tokyo, HH:MM or HH:MM:SS",
        examples=["09:00"],
    ),
]


def time_of_day(text: str) -> time:
    """A `TimeOfDay` as a `time` (the pattern has already refused anything else)."""
    return time.fromisoformat(text)


class FacilityCreate(Input):
    organization_id: Id
    name: Name
    kind: FacilityKind
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    # The municipality whose residents pay resident fees; defaults to the organisation's.
    municipality_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None


class Facility(Wire):
    id: int
    organization_id: int
    municipality_id: int
    name: str
    kind: FacilityKind
    address: str
    lat: float
    lon: float


class ResourceCreate(Input):
    name: Name
    unit_minutes: Annotated[int, msgspec.Meta(ge=15, le=480, multiple_of=15)]
    opens_at: TimeOfDay
    closes_at: TimeOfDay
    fee_per_unit: Yen
    cancel_deadline_hours: Hours
    non_resident_fee_per_unit: Yen | None = None
    payment_deadline_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 72
    pay_at_counter: bool = False
    max_bookings_per_month: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    waitlist_hold_minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] = 30
    lottery_only: bool = False
    # 減免: category → percent off, e.g. {"disability": 100, "child": 50}.
    reductions: Annotated[dict[Category, Percent], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=dict)


class Resource(Wire):
    id: int
    facility_id: int
    name: str
    unit_minutes: int
    opens_at: time
    closes_at: time
    fee_per_unit: int
    non_resident_fee_per_unit: int | None
    cancel_deadline_hours: int
    payment_deadline_hours: int
    pay_at_counter: bool
    max_bookings_per_month: int | None
    waitlist_hold_minutes: int
    lottery_only: bool
    reductions: dict[str, int]


class FacilityDetail(Facility):
    resources: list[Resource]


class Vacancy(Wire):
    resource_id: int
    facility_id: int
    start: datetime
    end: datetime
    state: VacancyState


class BookingCreate(Input):
    resource_id: Id
    start: Instant
    end: Instant
    reduction: Category | None = None


class Booking(Wire):
    id: int
    resource_id: int
    facility_id: int
    start: datetime
    end: datetime
    status: BookingStatus
    fee: int
    reduction: str | None
    pay_by: datetime | None
    hold_until: datetime | None
    created_at: datetime
    # Set when facility staff approved the reduction (減免); until then the booking stays provisional.
    reduction_approved_at: datetime | None = None


class BookingCancel(Input):
    # Required when staff cancel someone's booking; optional for the booker.
    reason: Reason | None = None


class WaitlistCreate(Input):
    resource_id: Id
    start: Instant
    end: Instant


class WaitlistEntry(Wire):
    id: int
    resource_id: int
    start: datetime
    end: datetime
    status: Literal["waiting", "offered", "booked", "expired", "cancelled"]
    created_at: datetime
