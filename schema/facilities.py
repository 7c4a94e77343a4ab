"""Facilities, resources, bookings and the waitlist (public-facility booking)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

import msgspec

from schema.base import Id, Input, Wire

FacilityKind = Literal["gym", "court", "meeting_room", "pool", "field", "hall", "studio", "other"]
BookingStatus = Literal["held", "provisional", "confirmed", "cancelled", "released"]
VacancyState = Literal["free", "held", "booked", "closed"]

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
    # Set while the resource is closed (no booking possible at all), with the reason given.
    closed_at: datetime | None = None
    closed_reason: str | None = None
    # 受付開始: a day opens for booking this many months before it; null = no limit.
    resident_horizon_months: int | None = None
    non_resident_horizon_months: int | None = None


class FacilityDetail(Facility):
    resources: list[Resource]


class Vacancy(Wire):
    resource_id: int
    facility_id: int
    start: datetime
    end: datetime
    state: VacancyState
    # When the day opens for booking (受付開始): for residents, and for everyone else; null = already open
    # or no horizon. Booking before that is refused with 409 `not-open-for-booking`.
    opens_for_booking_at: datetime | None = None
    opens_for_non_residents_at: datetime | None = None


class DayAvailability(Wire):
    """One day of a facility in the week grid: bookable units left of all the units not closed."""

    date: date
    free: int
    total: int
    # 受付開始 for the caller, when some of the day's units are not open for booking yet; null = open.
    opens_at: datetime | None = None


class FacilityAvailability(Facility):
    days: list[DayAvailability]
    # Metres from the point the search was near (`near=lat,lon`); null when it was not near anywhere.
    distance_m: int | None = None


class Municipality(Wire):
    id: int
    name_ja: str
    name_en: str


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


# -- back office (facility operators) ------------------------------------------------

HorizonMonths = Annotated[int, msgspec.Meta(ge=1, le=24)]
PaymentState = Literal["none", "due", "paid", "at_counter", "refund_due", "void"]


class ResourceUpdate(Input):
    """PATCH of a resource: only the fields sent change; `null` clears an optional one."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    unit_minutes: Annotated[int, msgspec.Meta(ge=15, le=480, multiple_of=15)] | msgspec.UnsetType = msgspec.UNSET
    opens_at: time | msgspec.UnsetType = msgspec.UNSET
    closes_at: time | msgspec.UnsetType = msgspec.UNSET
    fee_per_unit: Yen | msgspec.UnsetType = msgspec.UNSET
    non_resident_fee_per_unit: Yen | msgspec.UnsetType | None = msgspec.UNSET
    cancel_deadline_hours: Hours | msgspec.UnsetType = msgspec.UNSET
    payment_deadline_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] | msgspec.UnsetType = msgspec.UNSET
    pay_at_counter: bool | msgspec.UnsetType = msgspec.UNSET
    max_bookings_per_month: Annotated[int, msgspec.Meta(ge=1, le=1000)] | msgspec.UnsetType | None = msgspec.UNSET
    waitlist_hold_minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] | msgspec.UnsetType = msgspec.UNSET
    # Replaces the whole table of reductions (減免) when sent.
    reductions: Annotated[dict[Category, Percent], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    resident_horizon_months: HorizonMonths | msgspec.UnsetType | None = msgspec.UNSET
    non_resident_horizon_months: HorizonMonths | msgspec.UnsetType | None = msgspec.UNSET


class FacilityUpdate(Input):
    """PATCH of a facility: only the fields sent change; the position moves as a pair."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | msgspec.UnsetType = msgspec.UNSET
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | msgspec.UnsetType = msgspec.UNSET
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | msgspec.UnsetType = msgspec.UNSET


class ResourceClose(Input):
    reason: Reason
    # Future live bookings: cancel them (each booker told the reason, fees voided or refunded), or,
    # when false, refuse with 409 `resource-has-bookings`.
    cancel_bookings: bool = False


class OwnFacility(FacilityDetail):
    """A facility as its operator sees it: every resource, closed ones included."""


class ClosureCreate(Input):
    """休館日・メンテナンス: the whole facility, or one resource when `resourceId` is given."""

    start: Instant
    end: Instant
    reason: Reason
    resource_id: Id | None = None
    cancel_bookings: bool = False


class Closure(Wire):
    id: int
    facility_id: int
    resource_id: int | None
    start: datetime
    end: datetime
    reason: str
    created_at: datetime
    lifted_at: datetime | None
    # Bookings cancelled to make room for it (only in the answer to its creation).
    cancelled_booking_ids: list[int] | None = None


class ScheduleEntry(Wire):
    """One booking on the operator's schedule (予約台帳)."""

    id: int
    resource_id: int
    resource_name: str
    start: datetime
    end: datetime
    status: BookingStatus
    booker_id: int
    booker_name: str
    fee: int
    reduction: str | None
    reduction_approved_at: datetime | None
    payment: PaymentState
    pay_by: datetime | None
    no_show_at: datetime | None
    end_reason: str | None
    created_at: datetime


class ResourceClosed(Wire):
    resource: Resource
    cancelled_booking_ids: list[int]
