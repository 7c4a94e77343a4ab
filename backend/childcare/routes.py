"""HTTP ↔ ChildcareService. No rules here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from backend.childcare.service import MUNICIPAL_STAFF, NURSERY_STAFF, ChildcareService
from backend.core.auth import PREFECTURE_ADMIN, SIGNED_IN, VERIFIED
from backend.core.command_keys import command_key
from backend.core.context import app_context
from backend.core.pagination import KeyId, after_id, decode_cursor, page
from backend.http.idempotency import AnsweredByCommand
from backend.http.params import Cursor, IdParam, Limit, Me, MunicipalityQuery
from schema.base import MAX_ID
from schema.childcare import (
    Application,
    ApplicationCreate,
    ApplicationDecline,
    ApplicationMeeting,
    Approval,
    ApprovalCreate,
    AttendanceUpdate,
    Availability,
    Child,
    ChildCreate,
    MyReservation,
    PendingApplication,
    Quota,
    QuotaUpdate,
    Reservation,
    ReservationCreate,
    Roster,
    Session,
    SessionCancel,
    SessionCancelled,
    SessionCreate,
    SessionUpdate,
    WaitlistCreate,
    WaitlistEntry,
)

Service = NamedDependency[ChildcareService]


def childcare_service(state: State) -> ChildcareService:
    return ChildcareService(app_context(state))


@post(
    "/v1/nurseries/{nursery_id:int}/sessions",
    access=NURSERY_STAFF,
    operation_id="createChildcareSession",
)
async def create_session(nursery_id: IdParam, data: JSONBody[SessionCreate], caller: Me, childcare: Service) -> Session:
    """Open a session (date, block) with places per age band: {"0": n, "1-2": n, "3-5": n}."""
    return await childcare.create_session(caller, nursery_id, data)


@get(
    "/v1/nurseries/{nursery_id:int}/sessions",
    access=NURSERY_STAFF,
    operation_id="listChildcareSessions",
)
async def list_sessions(
    request: Request[Any, Any, Any],
    nursery_id: IdParam,
    caller: Me,
    childcare: Service,
    first: Annotated[date, QueryParameter(name="from")],
    last: Annotated[date, QueryParameter(name="to")],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[Session]]:
    """The nursery's sessions from `from` to `to` (inclusive, at most 92 days), with places taken per band."""
    after = decode_cursor(cursor, _DayKey, (first, 0))
    items = await childcare.sessions(caller, nursery_id, first, last, after, limit)
    return page(request, items, limit, key=lambda session: (session.date, session.id))


# Sessions page by (day, id): the key of the last one listed.
_DayKey = tuple[date, KeyId]


@patch(
    "/v1/nurseries/{nursery_id:int}/sessions/{session_id:int}",
    access=NURSERY_STAFF,
    operation_id="updateChildcareSession",
)
async def update_session(
    nursery_id: IdParam, session_id: IdParam, data: JSONBody[SessionUpdate], caller: Me, childcare: Service
) -> Session:
    """Change places per band before the session starts; 409 `capacity-below-places-taken` below the places taken."""
    return await childcare.update_session(caller, nursery_id, session_id, data)


@post(
    "/v1/nurseries/{nursery_id:int}/sessions/{session_id:int}/cancel",
    access=NURSERY_STAFF,
    operation_id="cancelChildcareSession",
    status_code=200,
)
async def cancel_session(
    nursery_id: IdParam, session_id: IdParam, data: JSONBody[SessionCancel], caller: Me, childcare: Service
) -> SessionCancelled:
    """Cancel the session: reservations cancelled, parents notified, quota hours given back."""
    return await childcare.cancel_session(caller, nursery_id, session_id, data.reason)


@get(
    "/v1/nurseries/{nursery_id:int}/roster",
    access=NURSERY_STAFF,
    operation_id="nurseryRoster",
)
async def roster(
    nursery_id: IdParam, caller: Me, childcare: Service, day: Annotated[date, QueryParameter(name="date")]
) -> Roster:
    """The day's children per session and band, with allergies and notes (audited: one row per view)."""
    return await childcare.roster(caller, nursery_id, day)


@post("/v1/children", access=VERIFIED, operation_id="registerChild")
async def register_child(data: JSONBody[ChildCreate], caller: Me, childcare: Service) -> Child:
    """A parent registers a child once: name, birth date, allergies, notes."""
    return await childcare.register_child(caller, data)


@get("/v1/children", access=SIGNED_IN, operation_id="listChildren")
async def list_children(
    request: Request[Any, Any, Any], caller: Me, childcare: Service, cursor: Cursor = None, limit: Limit = 50
) -> Response[list[Child]]:
    """The parent's children, or (nursery staff) children approved at their nursery (audited)."""
    items = await childcare.children(caller, after_id(cursor), limit)
    return page(request, items, limit)


@get("/v1/children/{child_id:int}", access=SIGNED_IN, operation_id="getChild")
async def get_child(child_id: IdParam, caller: Me, childcare: Service) -> Child:
    """The parent, or staff of a nursery where the child is approved or reserved (audited)."""
    return await childcare.child(caller, child_id)


@post("/v1/children/{child_id:int}/applications", access=VERIFIED, operation_id="applyToNursery")
async def apply_to_nursery(
    child_id: IdParam, data: JSONBody[ApplicationCreate], caller: Me, childcare: Service
) -> Application:
    """The parent asks a nursery to meet the child; the nursery then sees the child's name and age."""
    return await childcare.apply(caller, child_id, data.nursery_id)


@get(
    "/v1/children/{child_id:int}/applications",
    access=SIGNED_IN,
    operation_id="listChildApplications",
)
async def child_applications(
    request: Request[Any, Any, Any],
    child_id: IdParam,
    caller: Me,
    childcare: Service,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[Application]]:
    """The parent's applications for this child, with each nursery's answer."""
    items = await childcare.applications_of_child(caller, child_id, after_id(cursor), limit)
    return page(request, items, limit)


@delete(
    "/v1/children/{child_id:int}/applications/{application_id:int}",
    access=SIGNED_IN,
    operation_id="withdrawApplication",
    status_code=204,
)
async def withdraw_application(child_id: IdParam, application_id: IdParam, caller: Me, childcare: Service) -> None:
    """The parent withdraws a pending application; 409 once the nursery has answered."""
    await childcare.withdraw(caller, child_id, application_id)


@post(
    "/v1/children/{child_id:int}/applications/{application_id:int}/decline",
    access=NURSERY_STAFF,
    operation_id="declineApplication",
    status_code=200,
)
async def decline_application(
    child_id: IdParam, application_id: IdParam, data: JSONBody[ApplicationDecline], caller: Me, childcare: Service
) -> Application:
    """The nursery declines a pending application, saying why (the parent sees the reason)."""
    return await childcare.decline(caller, child_id, application_id, data.reason)


@post(
    "/v1/children/{child_id:int}/applications/{application_id:int}/meeting",
    access=NURSERY_STAFF,
    operation_id="setApplicationMeeting",
    status_code=200,
)
async def set_application_meeting(
    child_id: IdParam, application_id: IdParam, data: JSONBody[ApplicationMeeting], caller: Me, childcare: Service
) -> Application:
    """The nursery sets (or moves) the meeting (面談) for a pending application; the parent sees it."""
    return await childcare.set_meeting(caller, child_id, application_id, data.meeting_at)


@get(
    "/v1/nurseries/{nursery_id:int}/applications",
    access=NURSERY_STAFF,
    operation_id="listNurseryApplications",
)
async def nursery_applications(
    request: Request[Any, Any, Any],
    nursery_id: IdParam,
    caller: Me,
    childcare: Service,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[PendingApplication]]:
    """Pending applications to the nursery: the child's name and age only (audited)."""
    items = await childcare.pending_applications(caller, nursery_id, after_id(cursor), limit)
    return page(request, items, limit)


@post("/v1/children/{child_id:int}/approvals", access=NURSERY_STAFF, operation_id="approveChild")
async def approve_child(child_id: IdParam, data: JSONBody[ApprovalCreate], caller: Me, childcare: Service) -> Approval:
    """The nursery has met the child (面談), answering the parent's pending application; 404 without one."""
    return await childcare.approve(caller, child_id, data.nursery_id, data.meeting_at)


@get("/v1/childcare/availability", access=SIGNED_IN, operation_id="childcareAvailability")
async def availability(
    caller: Me,
    childcare: Service,
    day: Annotated[date, QueryParameter(name="date")],
    child_id: Annotated[int, QueryParameter(name="childId", ge=1, le=MAX_ID)],
    municipality_id: MunicipalityQuery = None,
) -> list[Availability]:
    """Sessions of the day for this child's age band: ◯ free, △ few, × full."""
    return await childcare.availability(caller, day, child_id, municipality_id)


@post(
    "/v1/childcare/reservations",
    access=VERIFIED,
    operation_id="reserveChildcare",
    # The reservation writes the request's Idempotency-Key itself; a retry re-reads the reservation.
    idempotency=AnsweredByCommand("/v1/childcare/reservations/{id}"),
)
async def reserve(
    request: Request[Any, Any, Any], data: JSONBody[ReservationCreate], caller: Me, childcare: Service
) -> Reservation:
    """Reserve a place (or take a held one). 409 when full or over quota; 403 when not approved there."""
    return await childcare.reserve(caller, data.session_id, data.child_id, command_key(request))


@get("/v1/childcare/reservations/{reservation_id:int}", access=SIGNED_IN, operation_id="getChildcareReservation")
async def get_reservation(reservation_id: IdParam, caller: Me, childcare: Service) -> Reservation:
    """One reservation, for the child's parent (404 for anyone else)."""
    return await childcare.reservation(caller, reservation_id)


@get("/v1/childcare/reservations", access=SIGNED_IN, operation_id="listMyChildcareReservations")
async def my_reservations(
    request: Request[Any, Any, Any], caller: Me, childcare: Service, cursor: Cursor = None, limit: Limit = 50
) -> Response[list[MyReservation]]:
    """The parent's upcoming reservations and held places."""
    items = await childcare.my_reservations(caller, after_id(cursor), limit)
    return page(request, items, limit)


@post(
    "/v1/childcare/reservations/{reservation_id:int}/cancel",
    access=SIGNED_IN,
    operation_id="cancelChildcare",
    status_code=200,
)
async def cancel(reservation_id: IdParam, caller: Me, childcare: Service) -> Reservation:
    """Cancel until the deadline; the place goes to the next waiter."""
    return await childcare.cancel(caller, reservation_id)


@post(
    "/v1/childcare/reservations/{reservation_id:int}/attendance",
    access=NURSERY_STAFF,
    operation_id="recordAttendance",
    status_code=200,
)
async def attendance(
    reservation_id: IdParam, data: JSONBody[AttendanceUpdate], caller: Me, childcare: Service
) -> Reservation:
    """Staff record on the session day that the child arrived, or did not come (no_show)."""
    return await childcare.record_attendance(caller, reservation_id, data.state)


@post("/v1/childcare/waitlist", access=VERIFIED, operation_id="joinChildcareWaitlist")
async def join_waitlist(data: JSONBody[WaitlistCreate], caller: Me, childcare: Service) -> WaitlistEntry:
    """Queue for a full session: a freed place is held for the child first (childcare.offered)."""
    return await childcare.join_waitlist(caller, data.session_id, data.child_id)


@put(
    "/v1/municipalities/{municipality_id:int}/childcare-quota",
    access=(*MUNICIPAL_STAFF, PREFECTURE_ADMIN),
    operation_id="setChildcareQuota",
)
async def set_quota(
    municipality_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    data: JSONBody[QuotaUpdate],
    caller: Me,
    childcare: Service,
) -> Quota:
    """Monthly hours each child of the municipality may use."""
    return await childcare.set_quota(caller, municipality_id, data.monthly_hours)


router = Router(
    path="/",
    tags=["childcare"],
    route_handlers=[
        create_session,
        list_sessions,
        update_session,
        cancel_session,
        roster,
        register_child,
        list_children,
        get_child,
        apply_to_nursery,
        child_applications,
        withdraw_application,
        decline_application,
        set_application_meeting,
        nursery_applications,
        approve_child,
        availability,
        reserve,
        get_reservation,
        my_reservations,
        cancel,
        attendance,
        join_waitlist,
        set_quota,
    ],
    dependencies={"childcare": Provide(childcare_service, sync_to_thread=False)},
)
