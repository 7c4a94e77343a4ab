"""Rules and transactions of public-facility booking.

The database carries the invariant (bookings_no_overlap); this module never decides that a
slot is free — it inserts, and a lost race is a 409 from the constraint. (A slot already taken
by a committed booking is answered 409 from the first read, so a rush's crowd does not queue.)
Writes to one resource's day queue on a transaction advisory lock before they meet the
constraint: conflicting in-flight inserts could otherwise deadlock in the exclusion index.
Waitlist holds are bookings with status 'held', so the same constraint keeps a held slot
from a competing booker. Whatever frees a slot (cancellation, unpaid provisional booking,
hold not taken) hands it to the next waiter in the same transaction.

In a rush a booking is judged by its round trips: the common case writes through book_slot
(migration 0019_book_slot_function), one statement that is its own transaction; only a slot with something to
release or a hold to take goes through the Python transaction in `_book_slot`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import asyncpg
from asyncpg import Range

from backend.core.audit import record_audit
from backend.core.auth import Caller, CallerChanged, Member
from backend.core.command_keys import ANSWER_KEY, CommandKey, answering
from backend.core.context import AppContext
from backend.core.db import TRANSIENT_FAILURES, retry_transient
from backend.core.errors import BadRequest, Conflict, NotFound, Unprocessable, register_constraint
from backend.core.outbox import emit, emit_all, outbox_columns
from backend.core.rows import from_row, from_rows
from backend.core.topics import facility_vacancy_topic, user_topic
from backend.facilities import queries
from backend.facilities.slots import (
    TOKYO,
    day_bounds,
    local_date,
    month_bounds,
    slot_problems,
    vacancies_of_day,
)
from schema.base import FieldError
from schema.events import (
    BookingCancelled,
    BookingCreated,
    BookingPaymentDue,
    Event,
    VacancyChanged,
    WaitlistOffered,
)
from schema.facilities import (
    Booking,
    BookingCancel,
    BookingCreate,
    DayAvailability,
    Facility,
    FacilityAvailability,
    FacilityCreate,
    FacilityDetail,
    Municipality,
    Resource,
    ResourceCreate,
    Vacancy,
    WaitlistCreate,
    WaitlistEntry,
    time_of_day,
)

log = logging.getLogger("musubi.facilities")

register_constraint("bookings_no_overlap", 409, "slot-taken", "The time overlaps a live booking")
register_constraint(
    "bookings_reduction_approved_before_confirmed",
    409,
    "reduction-not-approved",
    "Facility staff have not approved the reduction yet",
)
register_constraint(
    "waitlist_entries_once_idx", 409, "already-waiting", "You are already on the waitlist for this slot"
)

OWNER_KINDS = ("municipality", "facility_operator")
FACILITY_STAFF = (
    Member("municipality", "admin"),
    Member("municipality", "staff"),
    Member("facility_operator", "admin"),
    Member("facility_operator", "staff"),
)
LIVE = ("held", "provisional", "confirmed")
# How far from today resident search looks: beyond the longest booking horizon (24 months) nothing opens.
SEARCH_REACH_DAYS = 800


def _booking(row: asyncpg.Record) -> Booking:
    return from_row(Booking, row)


def _booker_and_staff(caller: Caller, booking: asyncpg.Record) -> tuple[bool, bool]:
    """Whether the caller booked it, and whether they are staff of its facility (or the prefecture's admin)."""
    staff = caller.is_prefecture_admin or booking["organization_id"] in caller.organization_ids(
        roles=("admin", "staff")
    )
    return booking["account_id"] == caller.account_id, staff


def _fee(
    resource: asyncpg.Record, data: BookingCreate, booker_municipality_id: int | None, reduction_percent: int | None
) -> int:
    """Units × the resident or non-resident rate, less the reduction (減免), rounded down to the yen."""
    units = (data.end - data.start) // timedelta(minutes=resource["unit_minutes"])
    rate = resource["fee_per_unit"]
    non_resident_rate = resource["non_resident_fee_per_unit"]
    if booker_municipality_id != resource["municipality_id"] and non_resident_rate is not None:
        rate = non_resident_rate
    return int(units * rate * (100 - (reduction_percent or 0)) // 100)


def _terms(
    resource: asyncpg.Record,
    data: BookingCreate,
    now: datetime,
    booker_municipality_id: int | None,
    reduction_percent: int | None,
) -> tuple[str, int, datetime | None]:
    """Status, fee and payment deadline of a new booking."""
    fee = _fee(resource, data, booker_municipality_id, reduction_percent)
    paid_later = fee > 0 and not resource["pay_at_counter"]
    # A reduction is the resident's own claim: provisional until staff have checked it.
    pending = paid_later or data.reduction is not None
    status = "provisional" if pending else "confirmed"
    pay_by = min(now + timedelta(hours=resource["payment_deadline_hours"]), data.start) if pending else None
    return status, fee, pay_by


def _monthly_cap(resource: asyncpg.Record) -> Conflict:
    return Conflict(f"At most {resource['max_bookings_per_month']} bookings a month here.", slug="monthly-cap")


def _lottery_only() -> Conflict:
    return Conflict("This resource is allocated by lottery.", slug="lottery-only")


def _slot_taken() -> Conflict:
    return Conflict(title="The time overlaps a live booking", slug="slot-taken")


def _refuse_unbookable(
    resource: asyncpg.Record | None, start: datetime, end: datetime, now: datetime
) -> asyncpg.Record:
    """The resource, unless it does not exist or [start, end) is no run of its units (422)."""
    if resource is None:
        raise Unprocessable(
            slug="unknown-reference", errors=[FieldError(field="$.resourceId", message="No such resource")]
        )
    problems = slot_problems(start, end, resource["opens_at"], resource["closes_at"], resource["unit_minutes"], now)
    if problems:
        raise Unprocessable("This is not a bookable time.", errors=problems)
    return resource


# Where a context keeps each resource's terms (RESOURCE_TERMS) between bookings, by resource id.
_KNOWN_TERMS = "facilities.resource_terms"


class FacilityService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- facilities and resources ------------------------------------------------

    def _require_staff(self, caller: Caller, organization_id: int) -> None:
        if not caller.is_prefecture_admin:
            caller.require_organization(organization_id, roles=("admin", "staff"))

    async def create_facility(self, caller: Caller, data: FacilityCreate) -> Facility:
        self._require_staff(caller, data.organization_id)
        async with self.ctx.acquire() as conn:
            organization = await conn.fetchrow(queries.ORGANIZATION, data.organization_id)
            if organization is None:
                raise NotFound()
            if organization["kind"] not in OWNER_KINDS:
                raise Unprocessable(
                    errors=[FieldError(field="$.organizationId", message="Must be a municipality or facility operator")]
                )
            municipality_id = data.municipality_id or organization["municipality_id"]
            if municipality_id is None:
                raise Unprocessable(errors=[FieldError(field="$.municipalityId", message="Required for this operator")])
            row = await conn.fetchrow(
                queries.INSERT_FACILITY,
                data.organization_id,
                municipality_id,
                data.name,
                data.kind,
                data.address,
                data.lat,
                data.lon,
                self.ctx.clock.now(),
            )
        return from_row(Facility, row)

    async def add_resource(self, caller: Caller, facility_id: int, data: ResourceCreate) -> Resource:
        async with self.ctx.acquire() as conn:
            facility = await conn.fetchrow(queries.FACILITY, facility_id)
            if facility is None:
                raise NotFound()
            self._require_staff(caller, facility["organization_id"])
            opens_at, closes_at = time_of_day(data.opens_at), time_of_day(data.closes_at)
            opening = datetime.combine(date.min, closes_at) - datetime.combine(date.min, opens_at)
            if opening <= timedelta() or opening % timedelta(minutes=data.unit_minutes):
                raise Unprocessable(
                    errors=[FieldError(field="$.closesAt", message="Opening hours must be a whole number of units")]
                )
            async with conn.transaction():
                resource_id = await conn.fetchval(
                    queries.INSERT_RESOURCE,
                    facility_id,
                    data.name,
                    data.unit_minutes,
                    opens_at,
                    closes_at,
                    data.fee_per_unit,
                    data.non_resident_fee_per_unit,
                    data.cancel_deadline_hours,
                    data.payment_deadline_hours,
                    data.pay_at_counter,
                    data.max_bookings_per_month,
                    data.waitlist_hold_minutes,
                    data.lottery_only,
                    self.ctx.clock.now(),
                )
                await conn.executemany(
                    queries.INSERT_REDUCTION, [(resource_id, k, v) for k, v in data.reductions.items()]
                )
                [resource] = await self._resources(conn, [facility_id], only=resource_id)
        return resource

    async def _resources(
        self, conn: asyncpg.Connection, facility_ids: Sequence[int], only: int | None = None
    ) -> list[Resource]:
        rows = await conn.fetch(queries.RESOURCES, list(facility_ids))
        return [from_row(Resource, row) for row in rows if only is None or row["id"] == only]

    async def facility(self, facility_id: int) -> FacilityDetail:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.FACILITY, facility_id)
            if row is None:
                raise NotFound()
            resources = await self._resources(conn, [facility_id])
        return from_row(FacilityDetail, row, resources=resources)

    async def facilities(self, municipality_id: int | None, kind: str | None, after: int, limit: int) -> list[Facility]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.FACILITIES, municipality_id, kind, after, limit)
        return from_rows(Facility, rows)

    # -- vacancies -------------------------------------------------------------

    async def vacancies(
        self, day: date, kind: str | None, municipality_id: int | None, facility_id: int | None, after: int, limit: int
    ) -> tuple[list[Vacancy], int | None]:
        """Every unit of `day` (Asia/Tokyo) of up to `limit` resources after resource id `after`."""
        start, end = day_bounds(day)
        async with self.ctx.acquire() as conn:
            resources = await conn.fetch(
                queries.VACANCIES_OF_DAY, kind, municipality_id, facility_id, after, limit, start, end
            )
        vacancies = vacancies_of_day(resources, day, self.ctx.clock.now())
        next_after = resources[-1]["id"] if len(resources) == limit else None
        return vacancies, next_after

    async def week(
        self,
        caller: Caller | None,
        first: date,
        days: int,
        kind: str | None,
        municipality_id: int | None,
        after: int | tuple[int, int],
        limit: int,
        near: tuple[float, float] | None = None,
    ) -> list[FacilityAvailability]:
        """Free and total units per day of up to `limit` facilities after `after`, and when a day not
        yet open opens for this caller (受付開始): the week grid of resident search. By facility id, or
        `near` a point by (metres, id) — "near me" on a phone that gave its position."""
        today = local_date(self.ctx.clock.now())
        if abs((first - today).days) > SEARCH_REACH_DAYS:
            raise BadRequest(f"`from` must lie within {SEARCH_REACH_DAYS} days of today.", slug="bad-range")
        account_id = caller.account_id if caller is not None else None
        after_m, after_id = after if isinstance(after, tuple) else (None, after)
        lat, lon = near if near is not None else (None, None)
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(
                queries.FACILITY_WEEK,
                kind,
                municipality_id,
                first,
                days,
                after_id,
                limit,
                self.ctx.clock.now(),
                account_id,
                lat,
                lon,
                after_m,
            )
        facilities: dict[int, FacilityAvailability] = {}
        for row in rows:
            facility = facilities.get(row["id"])
            if facility is None:
                fields = {k: row[k] for k in Facility.__struct_fields__}
                facility = facilities[row["id"]] = FacilityAvailability(**fields, days=[], distance_m=row["distance_m"])
            opens_at = row["opens_at"].astimezone(UTC) if row["opens_at"] is not None else None
            day = DayAvailability(date=row["day"], free=row["free"], total=row["total"], opens_at=opens_at)
            facility.days.append(day)
        return list(facilities.values())

    async def municipalities(self) -> list[Municipality]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.MUNICIPALITIES)
        return from_rows(Municipality, rows)

    # -- bookings --------------------------------------------------------------

    @retry_transient
    async def book(self, caller: Caller, data: BookingCreate, key: CommandKey | None = None) -> Booking:
        """`key`: the request's Idempotency-Key, written with the booking (backend/core/command_keys.py)."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            if data.reduction is None:
                outcome = await self._book_in_one_statement(conn, caller, data, now, key, fresh=False)
                if outcome == "stale-terms":  # the resource changed since this process read it
                    outcome = await self._book_in_one_statement(conn, caller, data, now, key, fresh=True)
                if isinstance(outcome, Booking):
                    return outcome
            # A claimed reduction, run-out bookings to release, the booker's own hold to take (or a
            # resource changing under the booking twice): checks read afresh, writes in a transaction,
            # for a caller read in this request.
            if caller.kept:
                raise CallerChanged()
            resource = _refuse_unbookable(
                await conn.fetchrow(
                    queries.BOOKING_CHECKS,
                    data.resource_id,
                    data.reduction,
                    caller.account_id,
                    data.start,
                    data.end,
                    month_bounds(data.start)[0].date(),
                    now,
                ),
                data.start,
                data.end,
                now,
            )
            if data.reduction is not None and resource["reduction_percent"] is None:
                raise Unprocessable(errors=[FieldError(field="$.reduction", message="No such reduction here")])
            if resource["lottery_only"] or resource["lottery_month"]:
                raise _lottery_only()
            if resource["slot_taken"]:
                raise _slot_taken()
            with answering(key):
                async with conn.transaction():
                    booking = await self._book_slot(conn, caller, data, resource, now)
                    if key is not None:
                        await conn.execute(ANSWER_KEY, *key.columns(), booking.id, now)
            if key is not None:
                key.answered = True
            return booking

    async def _book_in_one_statement(
        self,
        conn: asyncpg.Connection,
        caller: Caller,
        data: BookingCreate,
        now: datetime,
        key: CommandKey | None,
        *,
        fresh: bool,
    ) -> Booking | str:
        """The common booking (no reduction claimed): validated and priced on the resource's terms as
        this process knows them (`fresh`: read now), then checked and written by book_slot in one
        statement. The outcome's name when nothing was written and nothing refused."""
        known: dict[int, asyncpg.Record] = self.ctx.memo.setdefault(_KNOWN_TERMS, {})
        terms = None if fresh else known.get(data.resource_id)
        if terms is None:
            fresh = True
            terms = await conn.fetchrow(queries.RESOURCE_TERMS, data.resource_id)
            if terms is not None:
                known[data.resource_id] = terms
        try:
            terms = _refuse_unbookable(terms, data.start, data.end, now)
            if terms["lottery_only"]:
                raise _lottery_only()
        except (Unprocessable, Conflict):
            if not fresh:  # refused only on terms read now: staff may have opened these hours since
                return "stale-terms"
            raise
        status, fee, pay_by = _terms(terms, data, now, caller.residency_municipality_id, None)
        month_start, month_end = month_bounds(data.start)
        events = [
            # bookingId 0 is a placeholder: book_slot fills in the id of the row it inserts.
            (user_topic(caller.account_id), BookingCreated(booking_id=0, resource_id=terms["id"])),
            _vacancy_changed(terms["facility_id"], terms["id"], data.start),
        ]
        # Outside a transaction on purpose: the one statement is its own transaction.
        with answering(key):
            row = await conn.fetchrow(
                queries.BOOK_SLOT if key is None else queries.BOOK_SLOT_WRITING_KEY,
                terms["id"],
                terms["terms_version"],
                caller.account_id,
                data.start,
                data.end,
                status,
                fee,
                None,
                pay_by,
                now,
                terms["max_bookings_per_month"],
                month_start,
                month_end,
                month_start.date(),
                *outbox_columns(events),
                caller.session_id if caller.kept else None,
                caller.residency_municipality_id,
                *(key.columns() if key is not None else ()),
            )
        assert row is not None  # book_slot returns one row whatever the outcome
        outcome: str = row["outcome"]
        if outcome == "booked":
            if key is not None:
                key.answered = True
            return Booking(**{k: v for k, v in row.items() if k != "outcome"})
        if outcome == "stale-caller":
            raise CallerChanged()
        if outcome == "lottery-only":
            raise _lottery_only()
        if outcome == "slot-taken":
            raise _slot_taken()
        if outcome == "monthly-cap":
            raise _monthly_cap(terms)
        return outcome  # 'stale-terms' or 'needs-transaction'

    async def _book_slot(
        self, conn: asyncpg.Connection, caller: Caller, data: BookingCreate, resource: asyncpg.Record, now: datetime
    ) -> Booking:
        """The writes of a booking, queued behind the slot's lock; the exclusion constraint decides."""
        await conn.execute(queries.LOCK_SLOT_DAY, resource["id"], data.start)
        await self._free_expired(conn, resource["id"], Range(data.start, data.end), now)

        hold_id = await conn.fetchval(queries.OWN_HOLD, resource["id"], caller.account_id, data.start, data.end, now)
        if resource["max_bookings_per_month"] is not None:
            await conn.execute(queries.LOCK_BOOKER, caller.account_id, resource["id"])
            month_start, month_end = month_bounds(data.start)
            count = await conn.fetchval(
                queries.BOOKINGS_IN_MONTH, caller.account_id, resource["id"], month_start, month_end
            )
            if count >= resource["max_bookings_per_month"]:
                raise _monthly_cap(resource)

        status, fee, pay_by = _terms(
            resource, data, now, resource["booker_municipality_id"], resource["reduction_percent"]
        )
        if hold_id is not None:
            row = await conn.fetchrow(queries.TAKE_HOLD, hold_id, status, fee, data.reduction, pay_by)
            await conn.execute(queries.WAITLIST_BOOKED, hold_id)
        else:
            row = await conn.fetchrow(
                queries.INSERT_BOOKING,
                resource["id"],
                caller.account_id,
                data.start,
                data.end,
                status,
                fee,
                data.reduction,
                pay_by,
                None,
                now,
            )
        assert row is not None  # UPDATE/INSERT … RETURNING of a row this transaction holds
        booking = _booking(row)
        await record_audit(
            conn,
            actor=caller.account_id,
            action="booking.create",
            subject_type="booking",
            subject_id=booking.id,
            reason=None,
            at=now,
        )
        await emit_all(
            conn,
            [
                (
                    user_topic(caller.account_id),
                    BookingCreated(booking_id=booking.id, resource_id=booking.resource_id),
                ),
                _vacancy_changed(booking.facility_id, booking.resource_id, data.start),
            ],
            at=now,
        )
        return booking

    async def book_lottery_win(
        self, conn: asyncpg.Connection, account_id: int, data: BookingCreate, pay_by: datetime, now: datetime
    ) -> int:
        """A winner's provisional booking, inside the draw's transaction; the exclusion constraint still rules."""
        await conn.execute(queries.LOCK_SLOT_DAY, data.resource_id, data.start)
        resource = await conn.fetchrow(queries.RESOURCE_FOR_BOOKING, data.resource_id, None, account_id)
        assert resource is not None  # lottery resources cannot be deleted
        row = await conn.fetchrow(
            queries.INSERT_BOOKING,
            data.resource_id,
            account_id,
            data.start,
            data.end,
            "provisional",
            _fee(resource, data, resource["booker_municipality_id"], resource["reduction_percent"]),
            None,
            min(pay_by, data.start),
            None,
            now,
        )
        assert row is not None  # INSERT … RETURNING
        await record_audit(
            conn,
            actor=None,
            action="booking.lottery_win",
            subject_type="booking",
            subject_id=row["id"],
            reason=None,
            at=now,
        )
        await emit_all(
            conn,
            [
                (user_topic(account_id), BookingCreated(booking_id=row["id"], resource_id=data.resource_id)),
                _vacancy_changed(row["facility_id"], data.resource_id, data.start),
            ],
            at=now,
        )
        booking_id: int = row["id"]
        return booking_id

    @retry_transient
    async def confirm_free(self, caller: Caller, booking_id: int) -> Booking:
        """The booker confirms a provisional booking that costs nothing (e.g. a free lottery win)."""
        async with self.ctx.acquire() as conn, conn.transaction():
            # A status change writes a new entry in the exclusion index, so it queues like an insert.
            await conn.execute(queries.LOCK_BOOKING_DAY, booking_id)
            owner = await conn.fetchrow(queries.BOOKING_OWNER, booking_id)
            if owner is None or owner["account_id"] != caller.account_id:
                raise NotFound()
            if owner["status"] != "provisional":
                raise Conflict(f"The booking is {owner['status']}.", slug="not-provisional")
            if owner["fee"] > 0:
                raise Conflict("Pay at the facility to confirm this booking.", slug="payment-required")
            if owner["reduction"] is not None and owner["reduction_approved_at"] is None:
                raise Conflict("Facility staff have not approved the reduction yet.", slug="reduction-not-approved")
            row = await conn.fetchrow(queries.CONFIRM_FREE_BOOKING, booking_id)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="booking.confirm",
                subject_type="booking",
                subject_id=booking_id,
                reason=None,
                at=self.ctx.clock.now(),
            )
        return _booking(row)

    @retry_transient
    async def confirm_payment(self, caller: Caller, booking_id: int) -> Booking:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.LOCK_BOOKING_DAY, booking_id)
            current = await conn.fetchrow(queries.BOOKING_FOR_CHANGE, booking_id)
            if current is None:
                raise NotFound()
            self._require_staff(caller, current["organization_id"])
            if current["status"] != "provisional":
                raise Conflict(f"The booking is {current['status']}, not awaiting payment.", slug="not-provisional")
            if current["reduction"] is not None and current["reduction_approved_at"] is None:
                raise Conflict("Approve the reduction before recording payment.", slug="reduction-not-approved")
            row = await conn.fetchrow(queries.CONFIRM_BOOKING, booking_id)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="booking.confirm_payment",
                subject_type="booking",
                subject_id=booking_id,
                reason=None,
                at=now,
            )
        return _booking(row)

    @retry_transient
    async def approve_reduction(self, caller: Caller, booking_id: int) -> Booking:
        """Facility staff checked the resident's reduction (減免) claim and accept it."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.LOCK_BOOKING_DAY, booking_id)
            current = await conn.fetchrow(queries.BOOKING_FOR_CHANGE, booking_id)
            if current is None:
                raise NotFound()
            self._require_staff(caller, current["organization_id"])
            if current["reduction"] is None:
                raise Conflict("This booking has no reduction to approve.", slug="no-reduction")
            if current["reduction_approved_at"] is not None:
                raise Conflict("The reduction is already approved.", slug="reduction-approved")
            if current["status"] != "provisional":
                raise Conflict(f"The booking is {current['status']}.", slug="not-provisional")
            nothing_to_collect = current["fee"] == 0 or current["pay_at_counter"]
            row = await conn.fetchrow(queries.APPROVE_REDUCTION, booking_id, now, caller.account_id, nothing_to_collect)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="booking.approve_reduction",
                subject_type="booking",
                subject_id=booking_id,
                reason=current["reduction"],
                at=now,
            )
        return _booking(row)

    @retry_transient
    async def cancel(self, caller: Caller, booking_id: int, data: BookingCancel | None) -> Booking:
        now = self.ctx.clock.now()
        reason = data.reason if data else None
        async with self.ctx.acquire() as conn, conn.transaction():
            # Before the row lock: the freed time may be held for a waiter (an insert) below.
            await conn.execute(queries.LOCK_BOOKING_DAY, booking_id)
            current = await conn.fetchrow(queries.BOOKING_FOR_CHANGE, booking_id)
            if current is None:
                raise NotFound()
            is_owner, is_staff = _booker_and_staff(caller, current)
            if not (is_owner or is_staff):
                raise NotFound()  # someone else's booking: not even its existence is told
            if current["status"] not in LIVE:
                raise Conflict(f"The booking is already {current['status']}.", slug="not-cancellable")
            if not is_staff:
                deadline = current["start"] - timedelta(hours=current["cancel_deadline_hours"])
                if now > deadline:
                    raise Conflict(
                        f"Cancellation closed {current['cancel_deadline_hours']} hours before the start.",
                        slug="cancel-deadline-passed",
                    )
            elif not is_owner and reason is None:
                raise Unprocessable(errors=[FieldError(field="$.reason", message="Staff must give a reason")])
            row = await conn.fetchrow(
                queries.END_BOOKING, booking_id, "cancelled", now, reason or "cancelled by booker", caller.account_id
            )
            await record_audit(
                conn,
                actor=caller.account_id,
                action="booking.cancel",
                subject_type="booking",
                subject_id=booking_id,
                reason=reason,
                at=now,
            )
            await emit_all(
                conn,
                [
                    (
                        user_topic(current["account_id"]),
                        BookingCancelled(booking_id=booking_id, resource_id=current["resource_id"], reason=reason),
                    ),
                    _vacancy_changed(current["facility_id"], current["resource_id"], current["start"]),
                ],
                at=now,
            )
            await self._offer_to_waiters(conn, current["resource_id"], current["during"], now)
        return _booking(row)

    async def booking(self, caller: Caller, booking_id: int) -> Booking:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.BOOKING, booking_id)
        if row is None or not any(_booker_and_staff(caller, row)):
            raise NotFound()  # someone else's booking: not even its existence is told
        return _booking(row)

    async def my_bookings(
        self, caller: Caller, after: tuple[datetime, int], include_ended: bool, limit: int
    ) -> list[Booking]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.MY_BOOKINGS, caller.account_id, after[0], after[1], include_ended, limit)
        return [_booking(row) for row in rows]

    # -- waitlist and hand-over --------------------------------------------------

    async def join_waitlist(self, caller: Caller, data: WaitlistCreate) -> WaitlistEntry:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            _refuse_unbookable(
                await conn.fetchrow(queries.RESOURCE_FOR_BOOKING, data.resource_id, None, caller.account_id),
                data.start,
                data.end,
                now,
            )
            if await conn.fetchval(queries.SLOT_IS_FREE, data.resource_id, data.start, data.end):
                raise Conflict("The slot is free: book it instead.", slug="slot-free")
            await conn.execute(queries.LOCK_WAITLIST_OF_ACCOUNT, caller.account_id)
            cap = self.ctx.settings.max_waitlist_entries_per_account
            if await conn.fetchval(queries.OPEN_WAITLIST_ENTRIES, caller.account_id) >= cap:
                raise Conflict(
                    f"At most {cap} open waitlist entries per person; wait for one to be offered or to lapse.",
                    slug="too-many-waitlist-entries",
                    title="Too many waitlist entries",
                )
            row = await conn.fetchrow(
                queries.INSERT_WAITLIST, data.resource_id, caller.account_id, data.start, data.end, now
            )
        return from_row(WaitlistEntry, row)

    async def my_waitlist(self, caller: Caller, after: int, limit: int) -> list[WaitlistEntry]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.MY_WAITLIST, caller.account_id, after, limit)
        return from_rows(WaitlistEntry, rows)

    async def release_expired(self, batch: int = 200) -> int:
        """Release unpaid provisional bookings and untaken holds whose time ran out, handing
        each freed slot to the next waiter. Run periodically (see backend/processes/jobs.py); booking a
        slot also releases what expired there first, so correctness never waits for this."""
        now = self.ctx.clock.now()
        released = 0
        async with self.ctx.acquire() as conn:
            slots = await conn.fetch(queries.EXPIRED_SLOTS, now, batch)
            for slot in slots:
                try:
                    async with conn.transaction():
                        await conn.execute(queries.LOCK_SLOT_DAY, slot["resource_id"], slot["during"].lower)
                        released += await self._free_expired(conn, slot["resource_id"], slot["during"], now)
                except TRANSIENT_FAILURES as failure:
                    # Nothing of this slot was written; the next sweep (or the next booking there) frees it.
                    log.warning("releasing resource %s: %s", slot["resource_id"], failure.sqlstate)
        return released

    async def remind_payment_due(self, batch: int = 500) -> int:
        """The day before a provisional booking's payment deadline (Tokyo date), tell its booker,
        once: the booking is marked in the same statement that picks it, so a second sweeper (or
        the next round) finds nothing left to remind."""
        now = self.ctx.clock.now()
        tomorrow = now.astimezone(TOKYO).date() + timedelta(days=1)
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.MARK_PAYMENT_DUE_TOMORROW, now, tomorrow, batch)
            if rows:
                await emit_all(
                    conn,
                    [
                        (
                            user_topic(r["account_id"]),
                            BookingPaymentDue(
                                booking_id=r["id"], resource_id=r["resource_id"], pay_by=r["pay_by"].isoformat()
                            ),
                        )
                        for r in rows
                    ],
                    at=now,
                )
        return len(rows)

    async def _free_expired(
        self, conn: asyncpg.Connection, resource_id: int, during: Range[datetime], now: datetime
    ) -> int:
        rows = await conn.fetch(queries.RELEASE_EXPIRED_IN, resource_id, during, now)
        if not rows:
            return 0
        await conn.execute(queries.WAITLIST_EXPIRED, [r["id"] for r in rows if r["was_hold"]])
        facility_id = await conn.fetchval(queries.FACILITY_OF_RESOURCE, resource_id)
        for row in rows:
            await record_audit(
                conn,
                actor=None,  # the system, on the clock
                action="booking.release",
                subject_type="booking",
                subject_id=row["id"],
                reason="hold expired" if row["was_hold"] else "payment deadline passed",
                at=now,
            )
            events = [_vacancy_changed(facility_id, resource_id, row["during"].lower)]
            if not row["was_hold"]:
                released = BookingCancelled(booking_id=row["id"], resource_id=resource_id)
                events.insert(0, (user_topic(row["account_id"]), released))
            await emit_all(conn, events, at=now)
            await self._offer_to_waiters(conn, resource_id, row["during"], now)
        return len(rows)

    async def _offer_to_waiters(
        self, conn: asyncpg.Connection, resource_id: int, freed: Range[datetime], now: datetime
    ) -> None:
        """Hold the freed time for the first waiters whose wanted slot lies within it, in queue order."""
        for waiter in await conn.fetch(queries.WAITERS_WITHIN, resource_id, freed):
            hold_until = now + timedelta(minutes=waiter["waitlist_hold_minutes"])
            try:
                async with conn.transaction():  # a savepoint: a waiter whose slot overlaps a live booking is skipped
                    hold_id = await conn.fetchval(
                        queries.INSERT_HOLD, resource_id, waiter["account_id"], waiter["during"], hold_until, now
                    )
            except asyncpg.ExclusionViolationError:
                continue
            await conn.execute(queries.WAITLIST_OFFERED, waiter["id"], hold_id)
            await record_audit(
                conn,
                actor=None,
                action="booking.hold_for_waiter",
                subject_type="booking",
                subject_id=hold_id,
                reason=f"waitlist entry {waiter['id']}",
                at=now,
            )
            await emit(
                conn,
                topic=user_topic(waiter["account_id"]),
                event=WaitlistOffered(booking_id=hold_id, resource_id=resource_id, hold_until=hold_until.isoformat()),
                at=now,
            )


def _vacancy_changed(facility_id: int, resource_id: int, start: datetime) -> tuple[str, Event]:
    """The facility board's event: something changed on that day (Asia/Tokyo)."""
    date_changed = local_date(start).isoformat()
    return (
        facility_vacancy_topic(facility_id),
        VacancyChanged(facility_id=facility_id, resource_id=resource_id, date=date_changed),
    )
