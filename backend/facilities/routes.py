"""HTTP ↔ FacilityService. No rules here."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from backend.core.auth import (
    KEPT_CALLER,
    PREFECTURE_ADMIN,
    PUBLIC,
    SIGNED_IN,
    VERIFIED,
    CallerChanged,
    current_caller,
    fresh_caller,
    resolve_caller,
)
from backend.core.command_keys import command_key
from backend.core.context import app_context
from backend.core.errors import BadRequest
from backend.core.pagination import KeyId, after_id, decode_cursor, page, page_from
from backend.facilities.backoffice import FacilityBackOffice
from backend.facilities.service import FACILITY_STAFF, FacilityService
from backend.http.idempotency import AnsweredByCommand
from backend.http.params import Cursor, IdParam, Limit, Me, MunicipalityQuery
from schema.base import MAX_ID, FieldError
from schema.facilities import (
    Booking,
    BookingCancel,
    BookingCreate,
    Facility,
    FacilityAvailability,
    FacilityCreate,
    FacilityDetail,
    FacilityKind,
    FacilityUpdate,
    Municipality,
    Resource,
    ResourceCreate,
    ScheduleEntry,
    Vacancy,
    WaitlistCreate,
    WaitlistEntry,
)

FacilityQuery = Annotated[int | None, QueryParameter(name="facilityId", ge=1, le=MAX_ID)]
KindQuery = Annotated[FacilityKind | None, QueryParameter()]
NearQuery = Annotated[
    str | None,
    QueryParameter(description="A point, `lat,lon` in degrees (WGS 84): nearest facilities first", max_length=64),
]
# "Near me" pages by (metres, id): the key of the last one listed.
_NearKey = tuple[Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)], KeyId]
STAFF = (*FACILITY_STAFF, PREFECTURE_ADMIN)


def facility_service(state: State) -> FacilityService:
    return FacilityService(app_context(state))


Service = NamedDependency[FacilityService]


@post("/v1/facilities", access=STAFF, operation_id="createFacility")
async def create_facility(data: JSONBody[FacilityCreate], caller: Me, facilities: Service) -> Facility:
    """Register a facility of the caller's municipality or operator."""
    return await facilities.create_facility(caller, data)


@post("/v1/facilities/{facility_id:int}/resources", access=STAFF, operation_id="createResource")
async def create_resource(
    facility_id: IdParam, data: JSONBody[ResourceCreate], caller: Me, facilities: Service
) -> Resource:
    """Add a bookable room or court with its hours, fees, deadlines and caps."""
    return await facilities.add_resource(caller, facility_id, data)


@get("/v1/facilities", access=PUBLIC, operation_id="listFacilities")
async def list_facilities(
    request: Request[Any, Any, Any],
    facilities: Service,
    municipality_id: MunicipalityQuery = None,
    kind: KindQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[Facility]]:
    """Facilities by municipality and kind, by id."""
    items = await facilities.facilities(municipality_id, kind, after_id(cursor), limit)
    return page(request, items, limit)


@get("/v1/facilities/{facility_id:int}", access=PUBLIC, operation_id="getFacility")
async def get_facility(facility_id: IdParam, facilities: Service) -> FacilityDetail:
    """A facility with its resources."""
    return await facilities.facility(facility_id)


@get("/v1/municipalities", access=PUBLIC, operation_id="listMunicipalities")
async def list_municipalities(facilities: Service) -> list[Municipality]:
    """The 44 municipalities of Ibaraki: where a resident may search."""
    return await facilities.municipalities()


@get("/v1/facilities/availability", access=PUBLIC, operation_id="facilityAvailability")
async def facility_availability(
    request: Request[Any, Any, Any],
    facilities: Service,
    first: Annotated[date, QueryParameter(name="from", description="First day, Asia/Tokyo")],
    days: Annotated[int, QueryParameter(ge=1, le=14)] = 7,
    kind: KindQuery = None,
    municipality_id: MunicipalityQuery = None,
    near: NearQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[FacilityAvailability]]:
    """Per facility and day: free units of all units not closed, and when a day not yet open opens for
    booking (受付開始) — for the signed-in caller's residency when a token is sent. Pages over facilities:
    by id, or nearest first with `distanceM` when `near` is given."""
    # Public like the vacancy search; a token only decides whose booking horizon is shown.
    caller = await resolve_caller(request)
    point = _near(near)
    if point is None:
        items = await facilities.week(caller, first, days, kind, municipality_id, after_id(cursor), limit)
        return page(request, items, limit)
    after = decode_cursor(cursor, _NearKey, (-1, 0))
    items = await facilities.week(caller, first, days, kind, municipality_id, after, limit, near=point)
    return page(request, items, limit, key=_by_distance)


def _near(near: str | None) -> tuple[float, float] | None:
    """`lat,lon` as two numbers on the earth, or a 400 that says what is wrong."""
    if near is None:
        return None
    try:
        lat, lon = (float(part) for part in near.split(","))
    except ValueError:
        lat = lon = math.nan
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also false for NaN and infinities
        raise BadRequest(
            "`near` must be `lat,lon` in degrees: latitude −90…90, longitude −180…180.",
            slug="bad-location",
            errors=[FieldError(field="near", message="expected lat,lon in degrees")],
        )
    return lat, lon


def _by_distance(facility: FacilityAvailability) -> tuple[int, int]:
    return facility.distance_m or 0, facility.id


@get("/v1/vacancies", access=PUBLIC, operation_id="listVacancies")
async def list_vacancies(
    request: Request[Any, Any, Any],
    facilities: Service,
    day: Annotated[date, QueryParameter(name="date", description="Day in Asia/Tokyo")],
    kind: KindQuery = None,
    municipality_id: MunicipalityQuery = None,
    facility_id: FacilityQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[Vacancy]]:
    """Every booking unit of the day for matching resources: free, held (for a waiter) or booked.
    Pages over resources (`limit` resources per page)."""
    items, next_after = await facilities.vacancies(day, kind, municipality_id, facility_id, after_id(cursor), limit)
    return page_from(request, items, next_after)


@post(
    "/v1/bookings",
    access=VERIFIED,
    operation_id="createBooking",
    opt={KEPT_CALLER: True},
    # The booking writes the request's Idempotency-Key itself; a retry re-reads the booking.
    idempotency=AnsweredByCommand("/v1/bookings/{id}"),
)
async def create_booking(request: Request[Any, Any, Any], data: JSONBody[BookingCreate]) -> Booking:
    """Book whole units: confirmed when free or paid at the counter, otherwise provisional until `payBy`.
    Taking a waitlist hold is the same call for the held time. 409 when the time overlaps a live booking."""
    # The booking rush's hot path. No injected dependencies: Litestar resolves two or more in a task
    # group of their own, a tenth of a worker's time in a rush. The caller (resolved by the guard) may
    # be one this process kept, which book_slot checks.
    caller, facilities = await current_caller(request), facility_service(request.app.state)
    key = command_key(request)
    try:
        return await facilities.book(caller, data, key)
    except CallerChanged:
        return await facilities.book(await fresh_caller(request), data, key)


@get("/v1/bookings/{booking_id:int}", access=SIGNED_IN, operation_id="getBooking")
async def get_booking(booking_id: IdParam, caller: Me, facilities: Service) -> Booking:
    """One booking, for its booker or the facility's staff (404 for anyone else)."""
    return await facilities.booking(caller, booking_id)


@post(
    "/v1/bookings/{booking_id:int}/cancel",
    access=SIGNED_IN,
    operation_id="cancelBooking",
    status_code=200,
)
async def cancel_booking(
    booking_id: IdParam, caller: Me, facilities: Service, data: JSONBody[BookingCancel | None] = None
) -> Booking:
    """Cancel before the deadline (the booker) or any time with a reason (facility staff)."""
    return await facilities.cancel(caller, booking_id, data)


@post(
    "/v1/bookings/{booking_id:int}/payment",
    access=STAFF,
    operation_id="confirmPayment",
    status_code=200,
)
async def confirm_payment(booking_id: IdParam, caller: Me, facilities: Service) -> Booking:
    """Facility staff record payment: 仮予約 becomes 本予約."""
    return await facilities.confirm_payment(caller, booking_id)


@post(
    "/v1/bookings/{booking_id:int}/reduction-approval",
    access=STAFF,
    operation_id="approveReduction",
    status_code=200,
)
async def approve_reduction(booking_id: IdParam, caller: Me, facilities: Service) -> Booking:
    """Facility staff approve the reduction (減免) a resident claimed; free or pay-at-counter bookings
    are then confirmed, others wait for payment as usual."""
    return await facilities.approve_reduction(caller, booking_id)


@post(
    "/v1/bookings/{booking_id:int}/confirm",
    access=SIGNED_IN,
    operation_id="confirmBooking",
    status_code=200,
)
async def confirm_booking(booking_id: IdParam, caller: Me, facilities: Service) -> Booking:
    """The booker confirms a free provisional booking (e.g. a lottery win); paid ones are confirmed by payment."""
    return await facilities.confirm_free(caller, booking_id)


@get("/v1/me/bookings", access=SIGNED_IN, operation_id="listMyBookings")
async def my_bookings(
    request: Request[Any, Any, Any],
    caller: Me,
    facilities: Service,
    include_ended: Annotated[bool, QueryParameter(name="includeEnded")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[Booking]]:
    """The caller's bookings by start time (live ones unless includeEnded)."""
    items = await facilities.my_bookings(caller, _booking_cursor(cursor), include_ended, limit)
    return page(request, items, limit, key=_by_start)


# Bookings page by (start, id): the key of the last one listed.
_StartKey = tuple[Annotated[datetime, msgspec.Meta(tz=True)], KeyId]


def _booking_cursor(cursor: str | None) -> tuple[datetime, int]:
    return decode_cursor(cursor, _StartKey, (datetime.min.replace(tzinfo=UTC), 0))


def _by_start(booking: Booking | ScheduleEntry) -> tuple[datetime, int]:
    return booking.start, booking.id


@post("/v1/waitlist", access=VERIFIED, operation_id="joinWaitlist")
async def join_waitlist(data: JSONBody[WaitlistCreate], caller: Me, facilities: Service) -> WaitlistEntry:
    """Queue for a taken slot: when it frees, it is held for you first (waitlist.offered)."""
    return await facilities.join_waitlist(caller, data)


@get("/v1/me/waitlist", access=SIGNED_IN, operation_id="listMyWaitlist")
async def my_waitlist(
    request: Request[Any, Any, Any], caller: Me, facilities: Service, cursor: Cursor = None, limit: Limit = 50
) -> Response[list[WaitlistEntry]]:
    """The caller's waitlist entries."""
    items = await facilities.my_waitlist(caller, after_id(cursor), limit)
    return page(request, items, limit)


def back_office(state: State) -> FacilityBackOffice:
    return FacilityBackOffice(app_context(state))


# On the facility's own path, so it lives in this router (two routers on one path shadow each
# other's methods in Litestar); the work is the back office's.
@patch(
    "/v1/facilities/{facility_id:int}",
    access=(*FACILITY_STAFF, PREFECTURE_ADMIN),
    operation_id="updateFacility",
    dependencies={"office": Provide(back_office, sync_to_thread=False)},
)
async def update_facility(
    facility_id: IdParam, data: JSONBody[FacilityUpdate], caller: Me, office: NamedDependency[FacilityBackOffice]
) -> Facility:
    """Rename the facility or change its address and position (lat and lon together)."""
    return await office.update_facility(caller, facility_id, data)


router = Router(
    path="/",
    tags=["facilities"],
    route_handlers=[
        create_facility,
        update_facility,
        create_resource,
        list_facilities,
        list_municipalities,
        facility_availability,
        get_facility,
        list_vacancies,
        create_booking,
        get_booking,
        cancel_booking,
        confirm_payment,
        approve_reduction,
        confirm_booking,
        my_bookings,
        join_waitlist,
        my_waitlist,
    ],
    dependencies={"facilities": Provide(facility_service, sync_to_thread=False)},
)
