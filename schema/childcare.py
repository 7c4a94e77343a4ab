"""Temporary childcare (一時預かり): sessions, children, applications, approvals, reservations, availability."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from schema.base import Id, Input, Wire

Block = Literal["morning", "afternoon", "full_day"]
Band = Literal["0", "1-2", "3-5"]
Mark = Literal["◯", "△", "×"]
Places = Annotated[int, msgspec.Meta(ge=0, le=200)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class BandCapacity(Input):
    zero: Places = msgspec.field(name="0", default=0)
    one_to_two: Places = msgspec.field(name="1-2", default=0)
    three_to_five: Places = msgspec.field(name="3-5", default=0)


class BandCapacityChange(Input):
    zero: Places | None = msgspec.field(name="0", default=None)
    one_to_two: Places | None = msgspec.field(name="1-2", default=None)
    three_to_five: Places | None = msgspec.field(name="3-5", default=None)


class SessionCreate(Input):
    date: date
    block: Block
    capacity: BandCapacity
    cancel_deadline_hours: Annotated[int, msgspec.Meta(ge=0, le=24 * 14)] = 24


class SessionPlaces(Wire):
    band: Band
    capacity: int
    used: int


class Session(Wire):
    """A session and its places per band (`used`: places taken, by reserved and held children)."""

    id: int
    nursery_id: int
    date: date
    block: Block
    places: list[SessionPlaces]
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


class SessionUpdate(Input):
    """New capacities for some bands; a band left out keeps its capacity. Never below the places taken."""

    capacity: BandCapacityChange


class SessionCancel(Input):
    """Why the nursery cancels (staff illness, closure): the parents are told the session is cancelled."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class SessionCancelled(Wire):
    session: Session
    reservations_cancelled: int


class ChildCreate(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    birth_date: date
    allergies: Annotated[list[ShortText], msgspec.Meta(max_length=30)] = msgspec.field(default_factory=list)
    notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class Child(Wire):
    id: int
    name: str
    birth_date: date
    allergies: list[str]
    notes: str
    approved_nursery_ids: list[int]


class ApplicationCreate(Input):
    """The parent asks a nursery to meet the child (面談の申込み): until then the nursery can not see it."""

    nursery_id: Id


class Application(Wire):
    """A parent's application, as the parent sees it."""

    id: int
    child_id: int
    nursery_id: int
    status: Literal["pending", "approved", "declined", "withdrawn"]
    applied_at: datetime
    decided_at: datetime | None
    decline_reason: str | None
    nursery_name: str
    meeting_at: datetime | None = None  # the meeting (面談) the nursery set, if any


class PendingApplication(Wire):
    """An application as the nursery sees it before meeting the child: the child's name and age only."""

    id: int
    child_id: int
    nursery_id: int
    child_name: str
    age_years: int
    applied_at: datetime
    meeting_at: datetime | None = None


class ApplicationDecline(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


# A time with its offset: "10:00" means nothing without knowing whose 10:00.
Instant = Annotated[datetime, msgspec.Meta(tz=True)]


class ApplicationMeeting(Input):
    """The meeting (面談) the nursery proposes for a pending application; a later one replaces it."""

    meeting_at: Instant


class ApprovalCreate(Input):
    nursery_id: Id
    meeting_at: Instant | None = None  # the meeting before the first stay, set with the approval


class Approval(Wire):
    child_id: int
    nursery_id: int
    application_id: int
    approved_at: datetime
    meeting_at: datetime | None = None


class Availability(Wire):
    session_id: int
    nursery_id: int
    nursery_name: str
    block: Block
    band: Band
    remaining: int
    mark: Mark


class ReservationCreate(Input):
    session_id: Id
    child_id: Id


class Reservation(Wire):
    id: int
    session_id: int
    child_id: int
    band: Band
    hours: int
    status: Literal["held", "reserved", "cancelled", "released", "no_show"]
    hold_until: datetime | None
    created_at: datetime
    arrived_at: datetime | None


class MyReservation(Reservation):
    nursery_id: int
    date: date
    block: Block


class WaitlistCreate(Input):
    session_id: Id
    child_id: Id


class WaitlistEntry(Wire):
    id: int
    session_id: int
    child_id: int
    band: Band
    status: Literal["waiting", "offered", "booked", "expired"]


class QuotaUpdate(Input):
    monthly_hours: Annotated[int, msgspec.Meta(ge=0, le=744)]


class Quota(Wire):
    municipality_id: int
    monthly_hours: int


AttendanceState = Literal["arrived", "no_show"]


class AttendanceUpdate(Input):
    """At the door: the child came (arrived) or did not (no_show)."""

    state: AttendanceState


class RosterChild(Wire):
    """A child on the day's list, with what staff must know at the door (allergies, notes)."""

    reservation_id: int
    child_id: int
    name: str
    birth_date: date
    age_years: int
    allergies: list[str]
    notes: str
    attendance: Literal["expected", "arrived", "no_show"]
    arrived_at: datetime | None


class RosterBand(Wire):
    band: Band
    capacity: int
    used: int
    children: list[RosterChild]


class RosterSession(Wire):
    session_id: int
    block: Block
    cancelled_at: datetime | None
    bands: list[RosterBand]


class Roster(Wire):
    """The day's roster (園児名簿) of one nursery: who is expected in which session and band."""

    nursery_id: int
    date: date
    sessions: list[RosterSession]
    nursery_name: str = ""
