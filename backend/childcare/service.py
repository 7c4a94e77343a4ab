"""Rules and transactions of temporary childcare.

Places per age band are counters taken with a conditional UPDATE (CHECK used <= capacity);
monthly hours are charged with a conditional upsert against the municipality's quota. A
child's band is its age on the session day. A child's record (allergies, notes) is seen by
its parent and by staff of nurseries where it is approved or has reserved; every staff view
is audited.

Consent comes first: a nursery learns of a child only when the parent applies to it (and then
only the name and age), and can approve the child only by answering that pending application.
The approval is one statement that turns the pending application into an approved one and
inserts the approval naming it; the approvals' foreign key refuses any approval without one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import asyncpg

from backend.childcare import queries
from backend.core.audit import record_audit
from backend.core.auth import Caller, Member
from backend.core.command_keys import ANSWER_KEY, CommandKey, answering
from backend.core.context import AppContext
from backend.core.db import retry_transient
from backend.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable, register_constraint
from backend.core.outbox import emit_all, outbox_columns
from backend.core.rows import from_row, from_rows
from backend.core.topics import nursery_topic, nursery_vacancy_topic, user_topic
from backend.facilities.slots import TOKYO
from schema.base import FieldError
from schema.childcare import (
    Application,
    Approval,
    AttendanceState,
    Availability,
    Band,
    Block,
    Child,
    ChildCreate,
    Mark,
    MyReservation,
    PendingApplication,
    Quota,
    Reservation,
    Roster,
    RosterBand,
    RosterChild,
    RosterSession,
    Session,
    SessionCancelled,
    SessionCreate,
    SessionPlaces,
    SessionUpdate,
    WaitlistEntry,
)
from schema.events import (
    ChildApplicationDecided,
    ChildApplied,
    ChildcareCancelled,
    ChildcareOffered,
    ChildcareReminder,
    ChildcareReserved,
    ChildMeetingSet,
    Event,
    NurseryAvailabilityChanged,
)

register_constraint("childcare_sessions_once", 409, "session-exists", "This nursery already has that session")
register_constraint("childcare_reservations_once", 409, "already-reserved", "The child already has a place here")
register_constraint("childcare_waitlist_once", 409, "already-waiting", "The child is already on the waitlist")
register_constraint("child_approvals_pkey", 409, "already-approved", "The child is already approved here")
register_constraint(
    "child_applications_one_pending", 409, "already-applied", "The child already has a pending application there"
)
register_constraint(
    "childcare_places_within_capacity",
    409,
    "capacity-below-places-taken",
    "The capacity can not go below the places already taken",
)
register_constraint("childcare_reservations_arrival_of_reserved", 409, "child-arrived", "The child has already arrived")

NURSERY_STAFF = (Member("nursery", "staff"), Member("nursery", "admin"))
MUNICIPAL_STAFF = (Member("municipality", "staff"), Member("municipality", "admin"))
# When each block starts (for cancellation deadlines) and how many hours it counts toward the quota.
BLOCKS: dict[str, tuple[time, int]] = {
    "morning": (time(8, 30), 4),
    "afternoon": (time(13, 0), 4),
    "full_day": (time(8, 30), 8),
}
FEW_PLACES = 2  # at or below this many free places a session shows △
HOLD_MINUTES = 60
# A session list covers at most this many days per request: a quarter, enough for a planning view.
MAX_SESSION_RANGE_DAYS = 92


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day`, as Japanese law counts it."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def band_on(birth_date: date, day: date) -> Band | None:
    """The age band on `day`."""
    age = age_on(birth_date, day)
    if age < 0 or age > 5:
        return None
    return "0" if age == 0 else "1-2" if age <= 2 else "3-5"


def mark_for(remaining: int) -> Mark:
    return "×" if remaining <= 0 else "△" if remaining <= FEW_PLACES else "◯"


def _session_start(day: date, block: Block) -> datetime:
    return datetime.combine(day, BLOCKS[block][0], TOKYO)


def _nurseries(caller: Caller) -> frozenset[int]:
    return caller.organization_ids("nursery", roles=("staff", "admin"))


def _not_past(meeting_at: datetime, now: datetime) -> None:
    if meeting_at <= now:
        raise Unprocessable(errors=[FieldError(field="$.meetingAt", message="Is in the past")])


def _month(day: date) -> date:
    return day.replace(day=1)


class ChildcareService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- sessions --------------------------------------------------------------------

    async def create_session(self, caller: Caller, nursery_id: int, data: SessionCreate) -> Session:
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        capacity = {"0": data.capacity.zero, "1-2": data.capacity.one_to_two, "3-5": data.capacity.three_to_five}
        async with self.ctx.acquire() as conn, conn.transaction():
            session_id = await conn.fetchval(
                queries.INSERT_SESSION,
                nursery_id,
                data.date,
                data.block,
                data.cancel_deadline_hours,
                self.ctx.clock.now(),
            )
            await conn.execute(queries.INSERT_PLACES, session_id, list(capacity), list(capacity.values()))
            places = await conn.fetch(queries.PLACES, session_id)
        return Session(
            id=session_id,
            nursery_id=nursery_id,
            date=data.date,
            block=data.block,
            places=from_rows(SessionPlaces, places),
        )

    async def sessions(
        self, caller: Caller, nursery_id: int, first: date, last: date, after: tuple[date, int], limit: int
    ) -> list[Session]:
        """The nursery's sessions from `first` to `last` (inclusive), by day, with places taken per band."""
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        if last < first:
            raise BadRequest("`to` is before `from`.", slug="bad-range")
        if (last - first).days >= MAX_SESSION_RANGE_DAYS:
            raise BadRequest(f"At most {MAX_SESSION_RANGE_DAYS} days per request.", slug="range-too-long")
        after_day, after_id = after
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.SESSIONS_OF_NURSERY, nursery_id, first, last, after_day, after_id, limit)
        items = [
            from_row(
                Session,
                r,
                places=[
                    SessionPlaces(band=b, capacity=c, used=u)
                    for b, c, u in zip(r["bands"], r["capacities"], r["taken"], strict=True)
                ],
            )
            for r in rows
        ]
        return items

    @retry_transient
    async def update_session(self, caller: Caller, nursery_id: int, session_id: int, data: SessionUpdate) -> Session:
        """New capacities; the database refuses one below the places taken (409), so no reservation
        racing this edit can end up over capacity. Places added go to waiters first."""
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        wanted = {
            band: capacity
            for band, capacity in (
                ("0", data.capacity.zero),
                ("1-2", data.capacity.one_to_two),
                ("3-5", data.capacity.three_to_five),
            )
            if capacity is not None
        }
        if not wanted:
            raise Unprocessable(errors=[FieldError(field="$.capacity", message="Name at least one band")])
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            session = await self._open_session_of_nursery(conn, nursery_id, session_id, now)
            await conn.execute(queries.SET_CAPACITY, session_id, list(wanted), list(wanted.values()))
            await record_audit(
                conn,
                actor=caller.account_id,
                action="childcare.session.capacity",
                subject_type="childcare_session",
                subject_id=session_id,
                reason=", ".join(f"{band}: {capacity}" for band, capacity in wanted.items()),
                at=now,
            )
            events: list[tuple[str, Event]] = [_availability_changed(nursery_id, session_id)]
            hours = BLOCKS[session["block"]][1]
            for band in wanted:
                while (offer := await self._hold_for_next_waiter(conn, session_id, band, hours, now=now)) is not None:
                    events.append(offer)
            await emit_all(conn, events, at=now)
            return await self._session(conn, session)

    @retry_transient
    async def cancel_session(self, caller: Caller, nursery_id: int, session_id: int, reason: str) -> SessionCancelled:
        """Cancel the session at once: every reservation and hold cancelled, the hours given back to
        the month's quota, the waitlist closed, each parent told — all in one transaction."""
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            session = await self._open_session_of_nursery(conn, nursery_id, session_id, now)
            await conn.execute(queries.CANCEL_SESSION, session_id, now, caller.account_id, reason)
            await conn.execute(queries.LOCK_PLACES, session_id)
            live = await conn.fetch(queries.LIVE_RESERVATIONS_OF_SESSION, session_id)
            await conn.execute(queries.CANCEL_RESERVATIONS, [r["id"] for r in live], now)
            # Held places were never charged to the quota; reserved ones were.
            charged = [r for r in live if r["status"] == "reserved"]
            await conn.execute(
                queries.REFUND_HOURS_OF_CHILDREN,
                [r["child_id"] for r in charged],
                [r["hours"] for r in charged],
                _month(session["day"]),
            )
            await conn.execute(queries.WAITLIST_OF_SESSION_EXPIRED, session_id)
            await conn.execute(queries.CLOSE_PLACES, session_id)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="childcare.session.cancel",
                subject_type="childcare_session",
                subject_id=session_id,
                reason=f"{reason} (reservations {', '.join(str(r['id']) for r in live) or 'none'})",
                at=now,
            )
            events: list[tuple[str, Event]] = [
                (
                    user_topic(r["parent_id"]),
                    ChildcareCancelled(reservation_id=r["id"], session_id=session_id, by_nursery=True),
                )
                for r in live
            ]
            events.append(_availability_changed(nursery_id, session_id))
            await emit_all(conn, events, at=now)
            cancelled = await self._session(conn, session)
        return SessionCancelled(session=cancelled, reservations_cancelled=len(live))

    async def _open_session_of_nursery(
        self, conn: asyncpg.Connection, nursery_id: int, session_id: int, now: datetime
    ) -> asyncpg.Record:
        """The session, locked, if it belongs to the nursery and can still change; 404 for another nursery's."""
        session = await conn.fetchrow(queries.SESSION_OF_NURSERY_FOR_UPDATE, session_id, nursery_id)
        if session is None:
            raise NotFound()
        if session["cancelled_at"] is not None:
            raise Conflict("The session is cancelled.", slug="session-cancelled")
        if _session_start(session["day"], session["block"]) <= now:
            raise Conflict("The session has started.", slug="session-started")
        return session

    async def _session(self, conn: asyncpg.Connection, session: asyncpg.Record) -> Session:
        current = await conn.fetchrow(queries.SESSION, session["id"])
        assert current is not None  # locked by this transaction since _open_session_of_nursery
        places = await conn.fetch(queries.PLACES, session["id"])
        return Session(
            id=current["id"],
            nursery_id=current["nursery_id"],
            date=current["day"],
            block=current["block"],
            places=from_rows(SessionPlaces, places),
            cancelled_at=current["cancelled_at"],
            cancel_reason=current["cancel_reason"],
        )

    # -- the day's roster (園児名簿) ------------------------------------------------------------

    async def roster(self, caller: Caller, nursery_id: int, day: date) -> Roster:
        """Children expected on `day` per session and band, with allergies and notes. One audit row per
        view names every child shown, in the transaction of the read."""
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            name = await conn.fetchval(queries.NURSERY_NAME, nursery_id)
            rows = await conn.fetch(queries.ROSTER, nursery_id, day)
            shown = [r["child_id"] for r in rows if r["child_id"] is not None]
            if shown:
                await record_audit(
                    conn,
                    actor=caller.account_id,
                    action="childcare.roster.read",
                    subject_type="nursery_roster",
                    subject_id=f"{nursery_id}:{day}",
                    reason=f"day roster of nursery {nursery_id} on {day}: children {', '.join(map(str, shown))}",
                    at=now,
                )
        sessions: dict[int, RosterSession] = {}
        bands: dict[tuple[int, str], RosterBand] = {}
        for r in rows:
            if r["session_id"] not in sessions:
                sessions[r["session_id"]] = from_row(RosterSession, r, bands=[])
            key = (r["session_id"], r["band"])
            if key not in bands:
                bands[key] = from_row(RosterBand, r, children=[])
                sessions[r["session_id"]].bands.append(bands[key])
            if r["child_id"] is not None:
                bands[key].children.append(
                    from_row(
                        RosterChild,
                        r,
                        age_years=age_on(r["birth_date"], day),
                        attendance="no_show"
                        if r["status"] == "no_show"
                        else "arrived"
                        if r["arrived_at"] is not None
                        else "expected",
                    )
                )
        return Roster(nursery_id=nursery_id, nursery_name=name, date=day, sessions=list(sessions.values()))

    # -- children ----------------------------------------------------------------------

    async def register_child(self, caller: Caller, data: ChildCreate) -> Child:
        if data.birth_date > self.ctx.clock.now().astimezone(TOKYO).date():
            raise Unprocessable(errors=[FieldError(field="$.birthDate", message="Is in the future")])
        async with self.ctx.acquire() as conn, conn.transaction():
            child_id = await conn.fetchval(
                queries.INSERT_CHILD,
                caller.account_id,
                data.name,
                data.birth_date,
                data.allergies,
                data.notes,
                self.ctx.clock.now(),
            )
            return await self._child(conn, caller, child_id)

    async def child(self, caller: Caller, child_id: int) -> Child:
        async with self.ctx.acquire() as conn, conn.transaction():
            return await self._child(conn, caller, child_id)

    async def children(self, caller: Caller, after: int, limit: int) -> list[Child]:
        async with self.ctx.acquire() as conn, conn.transaction():
            ids = [r["id"] for r in await conn.fetch(queries.CHILDREN_OF_PARENT, caller.account_id, after, limit)]
            ids += [
                r["id"] for r in await conn.fetch(queries.CHILDREN_OF_NURSERIES, list(_nurseries(caller)), after, limit)
            ]
            return [await self._child(conn, caller, child_id) for child_id in sorted(set(ids))[:limit]]

    async def _child(self, conn: asyncpg.Connection, caller: Caller, child_id: int) -> Child:
        row = await conn.fetchrow(queries.CHILD, child_id)
        if row is None:
            raise NotFound()
        if row["parent_id"] != caller.account_id:
            related = {r["nursery_id"] for r in await conn.fetch(queries.CHILD_NURSERIES, child_id)}
            if not related & _nurseries(caller):
                raise NotFound()
            await record_audit(
                conn,
                actor=caller.account_id,
                action="child.read",
                subject_type="child",
                subject_id=child_id,
                reason="staff of a nursery where the child is approved or reserved",
                at=self.ctx.clock.now(),
            )
        return from_row(Child, row)

    # -- applications and approvals (面談) ---------------------------------------------------

    async def apply(self, caller: Caller, child_id: int, nursery_id: int) -> Application:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._own_child(conn, caller, child_id)
            if not await conn.fetchval(queries.NURSERY_EXISTS, nursery_id):
                raise Unprocessable(
                    slug="unknown-reference", errors=[FieldError(field="$.nurseryId", message="Not a nursery")]
                )
            if await conn.fetchval(queries.IS_APPROVED, child_id, nursery_id):
                raise Conflict("The child is already approved there.", slug="already-approved")
            row = await conn.fetchrow(queries.INSERT_APPLICATION, child_id, nursery_id, caller.account_id, now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="child.apply",
                subject_type="child",
                subject_id=child_id,
                reason=f"parent applied to nursery {nursery_id} (shares name and age)",
                at=now,
            )
            applied = ChildApplied(application_id=row["id"], nursery_id=nursery_id)
            await emit_all(conn, [(nursery_topic(nursery_id), applied)], at=now)
        return from_row(Application, row)

    async def applications_of_child(self, caller: Caller, child_id: int, after: int, limit: int) -> list[Application]:
        async with self.ctx.acquire() as conn:
            await self._own_child(conn, caller, child_id)
            rows = await conn.fetch(queries.APPLICATIONS_OF_CHILD, child_id, after, limit)
        return from_rows(Application, rows)

    async def withdraw(self, caller: Caller, child_id: int, application_id: int) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._own_child(conn, caller, child_id)
            row = await conn.fetchrow(queries.WITHDRAW_APPLICATION, application_id, child_id, caller.account_id, now)
            if row is None:
                if await conn.fetchrow(queries.APPLICATION, application_id, child_id) is None:
                    raise NotFound()
                raise Conflict("The nursery has already answered this application.", slug="application-decided")
            await self._decided(conn, caller, row, action="child.application.withdraw", reason="parent withdrew")

    async def pending_applications(
        self, caller: Caller, nursery_id: int, after: int, limit: int
    ) -> list[PendingApplication]:
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        now = self.ctx.clock.now()
        today = now.astimezone(TOKYO).date()
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.PENDING_APPLICATIONS_TO_NURSERY, nursery_id, after, limit)
            for row in rows:
                await record_audit(
                    conn,
                    actor=caller.account_id,
                    action="child.application.read",
                    subject_type="child",
                    subject_id=row["child_id"],
                    reason=f"pending application {row['id']} to nursery {nursery_id} (name and age only)",
                    at=now,
                )
        return [from_row(PendingApplication, r, age_years=age_on(r["birth_date"], today)) for r in rows]

    async def decline(self, caller: Caller, child_id: int, application_id: int, reason: str) -> Application:
        nurseries = _nurseries(caller)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                queries.DECLINE_APPLICATION, application_id, child_id, list(nurseries), caller.account_id, now, reason
            )
            if row is None:
                current = await conn.fetchrow(queries.APPLICATION, application_id, child_id)
                if current is None or current["nursery_id"] not in nurseries:
                    raise NotFound()
                raise Conflict(f"The application is already {current['status']}.", slug="application-decided")
            await self._decided(
                conn, caller, row, action="child.application.decline", reason=f"declined at nursery {row['nursery_id']}"
            )
        return from_row(Application, row)

    async def set_meeting(
        self, caller: Caller, child_id: int, application_id: int, meeting_at: datetime
    ) -> Application:
        """The nursery sets (or moves) the meeting (面談) for a pending application of its own: 404 for
        another nursery's, 409 once answered, 422 for a time already past. The parent is told."""
        nurseries = _nurseries(caller)
        now = self.ctx.clock.now()
        _not_past(meeting_at, now)
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                queries.SET_MEETING, application_id, child_id, list(nurseries), meeting_at, caller.account_id
            )
            if row is None:
                current = await conn.fetchrow(queries.APPLICATION, application_id, child_id)
                if current is None or current["nursery_id"] not in nurseries:
                    raise NotFound()
                raise Conflict(f"The application is already {current['status']}.", slug="application-decided")
            await record_audit(
                conn,
                actor=caller.account_id,
                action="child.application.meeting",
                subject_type="child",
                subject_id=child_id,
                reason=f"meeting at {meeting_at.isoformat()} (application {application_id})",
                at=now,
            )
            await self._emit_meeting(conn, row, at=now)
        return from_row(Application, row)

    async def _emit_meeting(self, conn: asyncpg.Connection, application: asyncpg.Record, *, at: datetime) -> None:
        meeting = ChildMeetingSet(
            application_id=application["id"],
            child_id=application["child_id"],
            nursery_id=application["nursery_id"],
            meeting_at=application["meeting_at"].isoformat(),
        )
        await self._tell_parent_and_nursery(conn, application, meeting, at=at)

    async def approve(
        self, caller: Caller, child_id: int, nursery_id: int, meeting_at: datetime | None = None
    ) -> Approval:
        """面談 done, or set with the approval (`meeting_at`, before the first stay): answers the child's
        pending application to this nursery; 404 without one, so a nursery can not find out whether a
        child it was not asked about exists."""
        if nursery_id not in _nurseries(caller):
            raise NotFound()
        now = self.ctx.clock.now()
        if meeting_at is not None:
            _not_past(meeting_at, now)
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                queries.APPROVE_PENDING_APPLICATION, child_id, nursery_id, caller.account_id, now, meeting_at
            )
            if row is None:
                # Only a nursery that already sees the child learns that it is approved there.
                if await conn.fetchval(queries.IS_APPROVED, child_id, nursery_id):
                    raise Conflict("The child is already approved here.", slug="already-approved")
                raise NotFound()
            await record_audit(
                conn,
                actor=caller.account_id,
                action="child.approve",
                subject_type="child",
                subject_id=child_id,
                reason=f"interview done at nursery {nursery_id} (application {row['application_id']})",
                at=now,
            )
            application = await conn.fetchrow(queries.APPLICATION, row["application_id"], child_id)
            await self._emit_decided(conn, application, at=now)
            if meeting_at is not None:
                await self._emit_meeting(conn, application, at=now)
        return from_row(Approval, row)

    async def _decided(
        self, conn: asyncpg.Connection, caller: Caller, application: asyncpg.Record, *, action: str, reason: str
    ) -> None:
        now = self.ctx.clock.now()
        await record_audit(
            conn,
            actor=caller.account_id,
            action=action,
            subject_type="child",
            subject_id=application["child_id"],
            reason=f"{reason} (application {application['id']})",
            at=now,
        )
        await self._emit_decided(conn, application, at=now)

    async def _emit_decided(self, conn: asyncpg.Connection, application: asyncpg.Record, *, at: datetime) -> None:
        """The parent hears the answer; the nursery's list of pending applications refreshes."""
        decided = ChildApplicationDecided(
            application_id=application["id"],
            child_id=application["child_id"],
            nursery_id=application["nursery_id"],
            status=application["status"],
        )
        await self._tell_parent_and_nursery(conn, application, decided, at=at)

    async def _tell_parent_and_nursery(
        self, conn: asyncpg.Connection, application: asyncpg.Record, event: Event, *, at: datetime
    ) -> None:
        """An event about an application, to the child's parent and to the nursery it was sent to."""
        parent_id = await conn.fetchval(queries.PARENT_OF_CHILD, application["child_id"])
        await emit_all(conn, [(user_topic(parent_id), event), (nursery_topic(application["nursery_id"]), event)], at=at)

    async def _own_child(self, conn: asyncpg.Connection, caller: Caller, child_id: int) -> asyncpg.Record:
        child = await conn.fetchrow(queries.CHILD, child_id)
        if child is None or child["parent_id"] != caller.account_id:
            raise NotFound()
        return child

    # -- availability and reservations ---------------------------------------------------

    async def availability(
        self, caller: Caller, day: date, child_id: int, municipality_id: int | None
    ) -> list[Availability]:
        async with self.ctx.acquire() as conn:
            child = await self._own_child(conn, caller, child_id)
            band = band_on(child["birth_date"], day)
            if band is None:
                return []
            rows = await conn.fetch(queries.AVAILABILITY, day, band, municipality_id)
        return [from_row(Availability, r, mark=mark_for(r["remaining"])) for r in rows]

    async def _bookable(
        self, conn: asyncpg.Connection, caller: Caller, session_id: int, child_id: int
    ) -> tuple[asyncpg.Record, Band]:
        """The child's and the session's facts (RESERVABLE) and the child's band on the day, once
        everything a reservation or a wait needs of them holds."""
        facts = await conn.fetchrow(queries.RESERVABLE, child_id, session_id)
        if facts is None or facts["parent_id"] != caller.account_id:
            raise NotFound()
        if facts["session_id"] is None:
            raise Unprocessable(
                slug="unknown-reference", errors=[FieldError(field="$.sessionId", message="No such session")]
            )
        if not facts["approved"]:
            raise _not_approved()
        # Only a clearer answer: a reservation racing the cancellation is refused by the closed places.
        if facts["cancelled_at"] is not None:
            raise _session_cancelled()
        band = band_on(facts["birth_date"], facts["day"])
        if band is None:
            raise Unprocessable(errors=[FieldError(field="$.childId", message="The child is not 0–5 on that day")])
        if _session_start(facts["day"], facts["block"]) <= self.ctx.clock.now():
            raise Conflict("The session has started.", slug="session-started")
        return facts, band

    @retry_transient
    async def reserve(
        self, caller: Caller, session_id: int, child_id: int, key: CommandKey | None = None
    ) -> Reservation:
        """A place for the child: checked on one read, then taken, charged and written by
        reserve_childcare_place in one statement; a hold kept for the child is taken in a transaction.
        `key`: the request's Idempotency-Key, written with the reservation (backend/core/command_keys.py)."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            facts, band = await self._bookable(conn, caller, session_id, child_id)
            hours = BLOCKS[facts["block"]][1]
            municipality = facts["parent_municipality_id"] or facts["nursery_municipality_id"]
            # reservationId 0 is a placeholder: the function fills in the id of the row it inserts.
            events = _reserved_events(caller, facts["nursery_id"], session_id, reservation_id=0)
            # Outside a transaction on purpose: the one statement is its own transaction.
            with answering(key):
                row = await conn.fetchrow(
                    queries.RESERVE_PLACE if key is None else queries.RESERVE_PLACE_WRITING_KEY,
                    session_id,
                    child_id,
                    band,
                    hours,
                    _month(facts["day"]),
                    municipality,
                    caller.account_id,
                    now,
                    *outbox_columns(events),
                    *(key.columns() if key is not None else ()),
                )
            assert row is not None  # the function returns one row whatever the outcome
            outcome = row["outcome"]
            if outcome == "reserved":
                reservation = from_row(Reservation, row)
            elif outcome == "needs-transaction":
                with answering(key):
                    async with conn.transaction():
                        reservation = await self._take_hold(conn, caller, facts, band, hours, municipality, now)
                        if key is not None:
                            await conn.execute(ANSWER_KEY, *key.columns(), reservation.id, now)
            elif outcome == "not-approved":
                raise _not_approved()
            elif outcome == "session-cancelled":
                raise _session_cancelled()
            elif outcome == "full":
                raise _full()
            else:
                raise _over_quota(await conn.fetchval(queries.QUOTA_OF, municipality))
        if key is not None:
            key.answered = True
        return reservation

    async def _take_hold(
        self,
        conn: asyncpg.Connection,
        caller: Caller,
        facts: asyncpg.Record,
        band: Band,
        hours: int,
        municipality: int,
        now: datetime,
    ) -> Reservation:
        """The reservation of a hold kept for the child (or, when it ran out meanwhile, of a free
        place), with the waitlist's bookkeeping: the rare path, in the caller's transaction. `hours`
        and `municipality` (whose quota applies) as reserve worked them out."""
        session_id, child_id = facts["session_id"], facts["child_id"]
        hold_id = await conn.fetchval(queries.OWN_HOLD, session_id, child_id, now)
        if hold_id is None and await conn.fetchval(queries.TAKE_PLACE, session_id, band) is None:
            raise _full()
        quota = await conn.fetchval(queries.QUOTA_OF, municipality)
        if quota is not None:
            charged = await conn.fetchval(queries.CHARGE_HOURS, child_id, _month(facts["day"]), hours, quota)
            if charged is None:
                raise _over_quota(quota)
        if hold_id is not None:
            row = await conn.fetchrow(queries.TAKE_HOLD, hold_id)
            await conn.execute(queries.WAITLIST_BOOKED, hold_id)
        else:
            row = await conn.fetchrow(
                queries.INSERT_RESERVATION, session_id, child_id, band, hours, "reserved", None, now
            )
        await record_audit(
            conn,
            actor=caller.account_id,
            action="childcare.reserve",
            subject_type="child",
            subject_id=child_id,
            reason=f"session {session_id}",
            at=now,
        )
        assert row is not None  # the hold is locked (OWN_HOLD) and an INSERT … RETURNING returns its row
        await emit_all(conn, _reserved_events(caller, facts["nursery_id"], session_id, row["id"]), at=now)
        return from_row(Reservation, row)

    async def reservation(self, caller: Caller, reservation_id: int) -> Reservation:
        """One reservation, for the child's parent (404 for anyone else: staff see theirs on the
        roster, where each view is audited)."""
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.RESERVATION_OF, reservation_id)
        if row is None or row["parent_id"] != caller.account_id:
            raise NotFound()
        return from_row(Reservation, row)

    async def my_reservations(self, caller: Caller, after: int, limit: int) -> list[MyReservation]:
        today = self.ctx.clock.now().astimezone(TOKYO).date()
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.MY_RESERVATIONS, caller.account_id, today, after, limit)
        return from_rows(MyReservation, rows)

    @retry_transient
    async def cancel(self, caller: Caller, reservation_id: int) -> Reservation:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.RESERVATION_FOR_UPDATE, reservation_id)
            if current is None or current["parent_id"] != caller.account_id:
                raise NotFound()
            if current["status"] not in ("reserved", "held"):
                raise Conflict(f"The reservation is already {current['status']}.", slug="not-cancellable")
            deadline = _session_start(current["day"], current["block"]) - timedelta(
                hours=current["cancel_deadline_hours"]
            )
            if current["status"] == "reserved" and now > deadline:
                raise Conflict("The cancellation deadline has passed.", slug="cancel-deadline-passed")
            row = await conn.fetchrow(queries.END_RESERVATION, reservation_id, "cancelled", now)
            await self._free(conn, current, refund=current["status"] == "reserved", now=now)
            cancelled = ChildcareCancelled(reservation_id=reservation_id, session_id=current["session_id"])
            await emit_all(
                conn,
                [(user_topic(caller.account_id), cancelled), (nursery_topic(current["nursery_id"]), cancelled)],
                at=now,
            )
        return from_row(Reservation, row)

    async def record_attendance(self, caller: Caller, reservation_id: int, state: AttendanceState) -> Reservation:
        """At the door, on the session day: arrived, or no-show. Either is recorded once; a no-show keeps
        the place taken (the session is under way) and the hours charged."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.RESERVATION_FOR_UPDATE, reservation_id)
            if current is None or current["nursery_id"] not in _nurseries(caller):
                raise NotFound()
            if current["day"] > now.astimezone(TOKYO).date():
                raise Conflict("Attendance is recorded on the session day.", slug="session-not-started")
            query = queries.MARK_ARRIVED if state == "arrived" else queries.MARK_NO_SHOW
            row = await conn.fetchrow(query, reservation_id, now)
            if row is None:
                if current["arrived_at"] is not None:
                    raise Conflict("The child's arrival is already recorded.", slug="attendance-recorded")
                raise Conflict(f"The reservation is {current['status']}.", slug="not-reserved")
            await record_audit(
                conn,
                actor=caller.account_id,
                action=f"childcare.attendance.{state}",
                subject_type="child",
                subject_id=current["child_id"],
                reason=f"reservation {reservation_id}",
                at=now,
            )
        return from_row(Reservation, row)

    async def _free(
        self, conn: asyncpg.Connection, reservation: asyncpg.Record, *, refund: bool, now: datetime
    ) -> None:
        """Give the place back (and the hours), then hold it for the next waiter of that band."""
        await conn.execute(queries.FREE_PLACE, reservation["session_id"], reservation["band"])
        if refund:
            await conn.execute(
                queries.REFUND_HOURS, reservation["child_id"], _month(reservation["day"]), reservation["hours"]
            )
        events: list[tuple[str, Event]] = [_availability_changed(reservation["nursery_id"], reservation["session_id"])]
        offer = await self._hold_for_next_waiter(
            conn, reservation["session_id"], reservation["band"], reservation["hours"], now=now
        )
        if offer is not None:
            events.append(offer)
        await emit_all(conn, events, at=now)

    async def _hold_for_next_waiter(
        self, conn: asyncpg.Connection, session_id: int, band: str, hours: int, *, now: datetime
    ) -> tuple[str, Event] | None:
        """Take a free place of the band for the first waiter, held until they confirm; None when
        nobody waits or no place is free."""
        waiter = await conn.fetchrow(queries.NEXT_WAITER, session_id, band)
        if waiter is None or not await conn.fetchval(queries.TAKE_PLACE, session_id, band):
            return None
        hold_until = now + timedelta(minutes=HOLD_MINUTES)
        hold = await conn.fetchrow(
            queries.INSERT_RESERVATION, session_id, waiter["child_id"], band, hours, "held", hold_until, now
        )
        assert hold is not None  # INSERT … RETURNING always returns the row
        await conn.execute(queries.WAITLIST_OFFERED, waiter["id"], hold["id"])
        offer = ChildcareOffered(reservation_id=hold["id"], session_id=session_id, hold_until=hold_until.isoformat())
        return user_topic(waiter["parent_id"]), offer

    async def join_waitlist(self, caller: Caller, session_id: int, child_id: int) -> WaitlistEntry:
        async with self.ctx.acquire() as conn, conn.transaction():
            _, band = await self._bookable(conn, caller, session_id, child_id)
            if await conn.fetchval(queries.PLACE_FREE, session_id, band):
                raise Conflict("A place is free: reserve it instead.", slug="place-free")
            await conn.execute(queries.LOCK_WAITLIST_OF_PARENT, caller.account_id)
            cap = self.ctx.settings.max_waitlist_entries_per_account
            if await conn.fetchval(queries.OPEN_WAITLIST_ENTRIES_OF_PARENT, caller.account_id) >= cap:
                raise Conflict(
                    f"At most {cap} open waitlist entries per person; wait for one to be offered or to lapse.",
                    slug="too-many-waitlist-entries",
                    title="Too many waitlist entries",
                )
            row = await conn.fetchrow(queries.INSERT_WAITLIST, session_id, child_id, band, self.ctx.clock.now())
        return from_row(WaitlistEntry, row)

    async def set_quota(self, caller: Caller, municipality_id: int, monthly_hours: int) -> Quota:
        allowed = caller.is_prefecture_admin
        async with self.ctx.acquire() as conn:
            if not allowed:
                own = caller.organization_ids("municipality", roles=("staff", "admin"))
                rows = await conn.fetch(queries.MUNICIPALITIES_OF, list(own))
                allowed = municipality_id in {r["municipality_id"] for r in rows}
            if not allowed:
                raise NotFound()
            row = await conn.fetchrow(queries.UPSERT_QUOTA, municipality_id, monthly_hours, self.ctx.clock.now())
        return from_row(Quota, row)

    # -- housekeeping ------------------------------------------------------------------------

    async def expire_holds(self) -> int:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            expired = await conn.fetch(queries.EXPIRED_HOLDS, now)
            if expired:
                await conn.execute(queries.WAITLIST_EXPIRED, [r["id"] for r in expired])
            for row in expired:
                current = await conn.fetchrow(queries.RESERVATION_FOR_UPDATE, row["id"])
                await self._free(conn, current, refund=False, now=now)
        return len(expired)

    async def send_reminders(self) -> int:
        """The day before: a reminder event (push hook) for each reservation."""
        now = self.ctx.clock.now()
        tomorrow = now.astimezone(TOKYO).date() + timedelta(days=1)
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.DUE_REMINDERS, now, tomorrow)
            if rows:
                await emit_all(
                    conn,
                    [
                        (
                            user_topic(r["parent_id"]),
                            ChildcareReminder(reservation_id=r["id"], session_id=r["session_id"]),
                        )
                        for r in rows
                    ],
                    at=now,
                )
        return len(rows)


def _reserved_events(caller: Caller, nursery_id: int, session_id: int, reservation_id: int) -> list[tuple[str, Event]]:
    reserved = ChildcareReserved(reservation_id=reservation_id, session_id=session_id)
    return [
        (user_topic(caller.account_id), reserved),
        (nursery_topic(nursery_id), reserved),
        _availability_changed(nursery_id, session_id),
    ]


def _not_approved() -> Forbidden:
    return Forbidden("The nursery has not approved this child yet (面談).", slug="not-approved")


def _session_cancelled() -> Conflict:
    return Conflict("The nursery has cancelled this session.", slug="session-cancelled")


def _full() -> Conflict:
    return Conflict("No place left for this age band.", slug="full")


def _over_quota(quota: int) -> Conflict:
    return Conflict(f"This would exceed the monthly quota of {quota} hours.", slug="quota-exceeded")


def _availability_changed(nursery_id: int, session_id: int) -> tuple[str, Event]:
    return nursery_vacancy_topic(nursery_id), NurseryAvailabilityChanged(nursery_id=nursery_id, session_id=session_id)
