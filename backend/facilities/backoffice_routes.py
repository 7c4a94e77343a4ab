"""HTTP ↔ FacilityBackOffice: what a facility operator's staff do. No rules here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from backend.auth import PREFECTURE_ADMIN
from backend.facilities.backoffice import MAX_EXPORT_ROWS, FacilityBackOffice, schedule_csv
from backend.facilities.routes import _booking_cursor, _by_start, back_office
from backend.facilities.service import FACILITY_STAFF
from backend.pagination import after_id, page
from backend.params import Cursor, IdParam, Limit, Me
from schema.facilities import (
    Booking,
    Closure,
    ClosureCreate,
    OwnFacility,
    Resource,
    ResourceClose,
    ResourceClosed,
    ResourceUpdate,
)

FromDay = Annotated[date, QueryParameter(name="from", description="First day, Asia/Tokyo")]
ToDay = Annotated[date, QueryParameter(name="to", description="Last day (included), Asia/Tokyo")]
STAFF = (*FACILITY_STAFF, PREFECTURE_ADMIN)


Office = NamedDependency[FacilityBackOffice]


@get("/v1/organizations/{organization_id:int}/facilities", access=STAFF, operation_id="listOwnFacilities")
async def own_facilities(
    request: Request[Any, Any, Any],
    organization_id: IdParam,
    caller: Me,
    office: Office,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[OwnFacility]]:
    """The organisation's facilities with every resource, closed ones included."""
    items = await office.own_facilities(caller, organization_id, after_id(cursor), limit)
    return page(request, items, limit)


@patch("/v1/resources/{resource_id:int}", access=STAFF, operation_id="updateResource")
async def update_resource(resource_id: IdParam, data: JSONBody[ResourceUpdate], caller: Me, office: Office) -> Resource:
    """Edit name, hours, unit, fees, reductions, deadlines, cap, hold time or booking horizon (受付開始).
    Bookings already made keep their time and fee."""
    return await office.update_resource(caller, resource_id, data)


@post("/v1/resources/{resource_id:int}/close", access=STAFF, operation_id="closeResource", status_code=200)
async def close_resource(
    resource_id: IdParam, data: JSONBody[ResourceClose], caller: Me, office: Office
) -> ResourceClosed:
    """Close a resource from now on. With future bookings, `cancelBookings: true` cancels them (each
    booker told the reason); otherwise 409 `resource-has-bookings`."""
    return await office.close_resource(caller, resource_id, data)


@post("/v1/resources/{resource_id:int}/reopen", access=STAFF, operation_id="reopenResource", status_code=200)
async def reopen_resource(resource_id: IdParam, caller: Me, office: Office) -> Resource:
    """Open a closed resource for booking again."""
    return await office.reopen_resource(caller, resource_id)


@post("/v1/facilities/{facility_id:int}/closures", access=STAFF, operation_id="createClosure")
async def create_closure(facility_id: IdParam, data: JSONBody[ClosureCreate], caller: Me, office: Office) -> Closure:
    """休館日・メンテナンス for the whole facility or one resource: vacancy search shows it closed and no
    booking can overlap it. Live bookings in it: cancel them (`cancelBookings`) or 409."""
    return await office.create_closure(caller, facility_id, data)


@get("/v1/facilities/{facility_id:int}/closures", access=STAFF, operation_id="listClosures")
async def list_closures(
    request: Request[Any, Any, Any],
    facility_id: IdParam,
    caller: Me,
    office: Office,
    first_day: FromDay,
    last_day: ToDay,
    include_lifted: Annotated[bool, QueryParameter(name="includeLifted")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[Closure]]:
    """Closures overlapping the days, by id."""
    items = await office.closures(caller, facility_id, first_day, last_day, include_lifted, after_id(cursor), limit)
    return page(request, items, limit)


@post("/v1/closures/{closure_id:int}/lift", access=STAFF, operation_id="liftClosure", status_code=200)
async def lift_closure(closure_id: IdParam, caller: Me, office: Office) -> Closure:
    """End a closure early or withdraw it: its time can be booked again."""
    return await office.lift_closure(caller, closure_id)


@get("/v1/facilities/{facility_id:int}/bookings", access=STAFF, operation_id="facilitySchedule")
async def facility_schedule(
    request: Request[Any, Any, Any],
    facility_id: IdParam,
    caller: Me,
    office: Office,
    first_day: FromDay,
    last_day: ToDay,
    output: Annotated[Literal["json", "csv"] | None, QueryParameter(name="format")] = None,
    cursor: Cursor = None,
    limit: Limit = 200,
) -> Response[Any]:
    """The schedule (予約台帳): every booking of the days with booker, status, fee, reduction and payment,
    by start time. `?format=csv` (or `Accept: text/csv`) gives all of it as CSV for Excel (UTF-8 with BOM)."""
    as_csv = output == "csv" or (output is None and "text/csv" in request.headers.get("accept", ""))
    if as_csv:
        rows = await office.schedule(caller, facility_id, first_day, last_day, _booking_cursor(None), MAX_EXPORT_ROWS)
        name = f"schedule-{facility_id}-{first_day.isoformat()}-{last_day.isoformat()}.csv"
        return Response(
            schedule_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    items = await office.schedule(caller, facility_id, first_day, last_day, _booking_cursor(cursor), limit)
    return page(request, items, limit, key=_by_start)


@post("/v1/bookings/{booking_id:int}/no-show", access=STAFF, operation_id="markNoShow", status_code=200)
async def mark_no_show(booking_id: IdParam, caller: Me, office: Office) -> Booking:
    """Record that nobody came for a confirmed booking that has started."""
    return await office.mark_no_show(caller, booking_id)


router = Router(
    path="/",
    tags=["facilities"],
    route_handlers=[
        own_facilities,
        update_resource,
        close_resource,
        reopen_resource,
        create_closure,
        list_closures,
        lift_closure,
        facility_schedule,
        mark_no_show,
    ],
    dependencies={"office": Provide(back_office, sync_to_thread=False)},
)
