"""Realtime events: one tagged union, ids and minimal fields only, never personal data.

Clients fetch details over HTTP under their *current* authorisation; an event only says
that something changed and where to look.
"""

from __future__ import annotations

import msgspec

from schema.accounts import Role


class Event(msgspec.Struct, rename="camel", kw_only=True, tag_field="type"):
    pass


class MembershipGranted(Event, tag="account.membership_granted"):
    organization_id: int
    role: Role


class MembershipChanged(Event, tag="account.membership_changed"):
    """The caller's role in an organisation changed (`role`), or ended (`role` null): refetch /v1/me."""

    organization_id: int
    role: Role | None


class OrganizationChanged(Event, tag="organization.changed"):
    """An organisation was edited, deactivated or reactivated: refetch it."""

    organization_id: int


class LiveAccessRevoked(Event, tag="realtime.access_revoked"):
    """Gateway-internal, on the control topic (schema.realtime.CONTROL_TOPIC), never sent to a client.

    Every gateway closes the live sockets of session `sessionId` (or, when it is null, every
    socket of account `accountId` opened with a ticket issued at or before `issuedUpTo`, unix
    seconds) and refuses those tickets from then on.
    """

    account_id: int
    session_id: int | None
    issued_up_to: int


class BookingCreated(Event, tag="booking.created"):
    booking_id: int
    resource_id: int


class BookingCancelled(Event, tag="booking.cancelled"):
    booking_id: int
    resource_id: int
    # Why, when staff cancelled it (on behalf, a closure, the resource closing); fetch the booking for more.
    reason: str | None = None


class BookingPaymentDue(Event, tag="booking.payment_due"):
    """A provisional booking's payment deadline is tomorrow (sent once per booking)."""

    booking_id: int
    resource_id: int
    pay_by: str


class VacancyChanged(Event, tag="vacancy.changed"):
    """Something on this facility's board changed on `date` (Asia/Tokyo); refetch /v1/vacancies."""

    facility_id: int
    resource_id: int
    date: str


class WaitlistOffered(Event, tag="waitlist.offered"):
    """A freed slot is held for you until `holdUntil`: book it with POST /v1/bookings."""

    booking_id: int
    resource_id: int
    hold_until: str


class EmsRequestCreated(Event, tag="ems.request.created"):
    request_id: int
    case_id: int


class EmsRequestRealerted(Event, tag="ems.request.realerted"):
    """Still unanswered: an urgent re-alert (push hook)."""

    request_id: int
    case_id: int
    count: int


class EmsRequestResponded(Event, tag="ems.request.responded"):
    request_id: int
    case_id: int
    hospital_id: int
    decision: str


class EmsDestinationSet(Event, tag="ems.destination.set"):
    case_id: int
    hospital_id: int


class EmsCaseUpdated(Event, tag="ems.case.updated"):
    """New vitals or a photo on a case bound for this hospital: refetch GET /v1/ems/incoming."""

    case_id: int
    hospital_id: int


class EmsRequestReleased(Event, tag="ems.request.released"):
    """This hospital is no longer involved; its access to the case has ended."""

    request_id: int
    case_id: int


class EmsCaseClosed(Event, tag="ems.case.closed"):
    case_id: int
    outcome: str


class HospitalBoardChanged(Event, tag="hospital.board.changed"):
    hospital_id: int
    department: str


class IntakeRequested(Event, tag="intake.requested"):
    request_id: int


class IntakeResponded(Event, tag="intake.responded"):
    request_id: int
    shelter_id: int
    decision: str


class IntakePlaced(Event, tag="intake.placed"):
    request_id: int
    shelter_id: int


class IntakeClosed(Event, tag="intake.closed"):
    """Placed elsewhere: this shelter's part in the request has ended."""

    request_id: int


class IntakeCancelled(Event, tag="intake.cancelled"):
    """The guidance centre cancelled this request: nothing more to answer."""

    request_id: int


class ShelterVacancyChanged(Event, tag="shelter.vacancy.changed"):
    shelter_id: int
    category: str


class ChildcareReserved(Event, tag="childcare.reserved"):
    reservation_id: int
    session_id: int


class ChildcareCancelled(Event, tag="childcare.cancelled"):
    reservation_id: int
    session_id: int
    # True when the nursery cancelled the whole session, so the parent's app can say so.
    by_nursery: bool = False


class ChildcareOffered(Event, tag="childcare.offered"):
    """A freed place is held for your child until `holdUntil` (push hook)."""

    reservation_id: int
    session_id: int
    hold_until: str


class ChildcareReminder(Event, tag="childcare.reminder"):
    """Tomorrow's reservation (push hook)."""

    reservation_id: int
    session_id: int


class ChildApplied(Event, tag="childcare.application.created"):
    """A parent applied to this nursery: GET /v1/nurseries/{id}/applications."""

    application_id: int
    nursery_id: int


class ChildApplicationDecided(Event, tag="childcare.application.decided"):
    """The nursery approved or declined, or the parent withdrew, an application."""

    application_id: int
    child_id: int
    nursery_id: int
    status: str


class ChildMeetingSet(Event, tag="childcare.application.meeting"):
    """The nursery set (or moved) the meeting (面談) for a pending application, or set it with the approval."""

    application_id: int
    child_id: int
    nursery_id: int
    meeting_at: str


class NurseryAvailabilityChanged(Event, tag="nursery.availability.changed"):
    nursery_id: int
    session_id: int


class BookingNoShow(Event, tag="booking.no_show"):
    """Facility staff recorded that nobody came for this booking."""

    booking_id: int
    resource_id: int


class ResourceChanged(Event, tag="resource.changed"):
    """The operator edited, closed or reopened a resource, or changed a closure on it: refetch the facility."""

    facility_id: int
    resource_id: int | None


class ResidencyChanged(Event, tag="residency.changed"):
    """Your declared residency was verified, declined or ended: refetch GET /v1/me/residency."""

    residency_id: int
    municipality_id: int
    status: str


class ResidencyRequested(Event, tag="residency.requested"):
    """A resident declared this municipality: GET /v1/municipalities/{id}/residency-requests."""

    residency_id: int
    municipality_id: int


class LotteryCancelled(Event, tag="lottery.cancelled"):
    """The lottery you applied to was cancelled before its close; nothing was drawn."""

    lottery_id: int
    reason: str


class LotteryResult(Event, tag="lottery.result"):
    lottery_id: int
    application_id: int
    won: bool
    booking_id: int | None = None


AnyEvent = (
    MembershipGranted
    | MembershipChanged
    | OrganizationChanged
    | LiveAccessRevoked
    | BookingCreated
    | BookingCancelled
    | BookingPaymentDue
    | VacancyChanged
    | WaitlistOffered
    | EmsRequestCreated
    | EmsRequestRealerted
    | EmsRequestResponded
    | EmsDestinationSet
    | EmsCaseUpdated
    | EmsRequestReleased
    | EmsCaseClosed
    | HospitalBoardChanged
    | IntakeRequested
    | IntakeResponded
    | IntakePlaced
    | IntakeClosed
    | IntakeCancelled
    | ShelterVacancyChanged
    | ChildcareReserved
    | ChildcareCancelled
    | ChildcareOffered
    | ChildcareReminder
    | ChildApplied
    | ChildApplicationDecided
    | ChildMeetingSet
    | NurseryAvailabilityChanged
    | LotteryResult
    | BookingNoShow
    | ResourceChanged
    | LotteryCancelled
    | ResidencyChanged
    | ResidencyRequested
)


def event_type(event: Event) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str), f"{type(event).__name__} has no tag"
    return tag
