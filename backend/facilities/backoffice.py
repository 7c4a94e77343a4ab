"""The facility operator's side: their facilities and resources, closing and reopening,
closures (休館日・メンテナンス), the schedule (予約台帳) and no-shows.

The booking path is not touched: the database refuses a booking on a closed resource, inside a
closure or before its day opens (trigger bookings_respect_closures, migration 0020_facility_back_office), and a
closure cannot be laid over live bookings. Closing over bookings is therefore an explicit
choice here: cancel them (each booker told why) or get 409 `resource-has-bookings`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import asyncpg
import msgspec
from asyncpg import Range

from backend.audit import record_audit
from backend.auth import Caller
from backend.context import AppContext
from backend.db import retry_transient
from backend.errors import Conflict, NotFound, Unprocessable, register_constraint
from backend.facilities import backoffice_queries as sql
from backend.facilities import queries
from backend.facilities.service import _booking, _vacancy_changed
from backend.facilities.slots import TOKYO, day_bounds, local_date
from backend.outbox import emit_all
from backend.rows import from_row, from_rows
from backend.topics import facility_vacancy_topic, user_topic
from schema.base import FieldError
from schema.events import BookingCancelled, BookingNoShow, Event, ResourceChanged
from schema.facilities import (
    Booking,
    Closure,
    ClosureCreate,
    Facility,
    FacilityUpdate,
    OwnFacility,
    Resource,
    ResourceClose,
    ResourceClosed,
    ResourceUpdate,
    ScheduleEntry,
)

register_constraint("bookings_resource_open", 409, "resource-closed", "The resource is closed")
register_constraint("bookings_not_in_closure", 409, "facility-closed", "The facility is closed at that time")
register_constraint(
    "bookings_within_horizon", 409, "not-open-for-booking", "Booking for that day has not opened yet (受付開始)"
)
register_constraint("closures_clear_of_bookings", 409, "resource-has-bookings", "Live bookings overlap the closure")
register_constraint(
    "resources_closed_clear_of_bookings", 409, "resource-has-bookings", "The resource has future bookings"
)
register_constraint(
    "bookings_no_show_only_confirmed", 409, "not-confirmed", "Only a confirmed booking can be a no-show"
)

# Longest schedule one request reads (a month and a bit), and the most rows a CSV export holds.
MAX_SCHEDULE_DAYS = 62
MAX_EXPORT_ROWS = 10_000


class FacilityBackOffice:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @staticmethod
    def _require_staff(caller: Caller, organization_id: int) -> None:
        """404 outside the caller's organisations (the prefecture admin sees all)."""
        if not caller.is_prefecture_admin:
            caller.require_organization(organization_id, roles=("admin", "staff"))

    # -- facilities and resources ------------------------------------------------

    async def own_facilities(self, caller: Caller, organization_id: int, after: int, limit: int) -> list[OwnFacility]:
        self._require_staff(caller, organization_id)
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(sql.OWN_FACILITIES, organization_id, after, limit)
            resources = await conn.fetch(queries.RESOURCES, [r["id"] for r in rows])
        by_facility: dict[int, list[Resource]] = {}
        for resource in resources:
            by_facility.setdefault(resource["facility_id"], []).append(from_row(Resource, resource))
        return [from_row(OwnFacility, row, resources=by_facility.get(row["id"], [])) for row in rows]

    @retry_transient
    async def update_facility(self, caller: Caller, facility_id: int, data: FacilityUpdate) -> Facility:
        """Rename the facility or move its address and position; bookings are untouched."""
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        if ("lat" in changes) != ("lon" in changes):
            missing = "$.lon" if "lat" in changes else "$.lat"
            raise Unprocessable(errors=[FieldError(field=missing, message="Latitude and longitude move together")])
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(sql.FACILITY_FOR_UPDATE, facility_id)
            if current is None:
                raise NotFound()
            self._require_staff(caller, current["organization_id"])
            merged = {**dict(current), **changes}
            row = await conn.fetchrow(
                sql.UPDATE_FACILITY, facility_id, merged["name"], merged["address"], merged["lat"], merged["lon"]
            )
            await record_audit(
                conn,
                actor=caller.account_id,
                action="facility.update",
                subject_type="facility",
                subject_id=facility_id,
                reason=", ".join(sorted(changes)),
                at=now,
            )
            await self._resource_changed(conn, facility_id, None, now)
        return from_row(Facility, row)

    async def _resource_for_update(self, conn: asyncpg.Connection, caller: Caller, resource_id: int) -> asyncpg.Record:
        current = await conn.fetchrow(sql.RESOURCE_FOR_UPDATE, resource_id)
        if current is None:
            raise NotFound()
        self._require_staff(caller, current["organization_id"])
        return current

    async def _read_resource(self, conn: asyncpg.Connection, facility_id: int, resource_id: int) -> Resource:
        rows = await conn.fetch(queries.RESOURCES, [facility_id])
        return next(from_row(Resource, r) for r in rows if r["id"] == resource_id)

    @retry_transient
    async def update_resource(self, caller: Caller, resource_id: int, data: ResourceUpdate) -> Resource:
        """Change what was sent. Bookings already made keep their time and fee."""
        now = self.ctx.clock.now()
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await self._resource_for_update(conn, caller, resource_id)
            merged = {**dict(current), **changes}
            opening = datetime.combine(date.min, merged["closes_at"]) - datetime.combine(date.min, merged["opens_at"])
            if opening <= timedelta() or opening % timedelta(minutes=merged["unit_minutes"]):
                raise Unprocessable(
                    errors=[FieldError(field="$.closesAt", message="Opening hours must be a whole number of units")]
                )
            await conn.execute(
                sql.UPDATE_RESOURCE,
                resource_id,
                merged["name"],
                merged["unit_minutes"],
                merged["opens_at"],
                merged["closes_at"],
                merged["fee_per_unit"],
                merged["non_resident_fee_per_unit"],
                merged["cancel_deadline_hours"],
                merged["payment_deadline_hours"],
                merged["pay_at_counter"],
                merged["max_bookings_per_month"],
                merged["waitlist_hold_minutes"],
                merged["resident_horizon_months"],
                merged["non_resident_horizon_months"],
            )
            if "reductions" in changes:
                await conn.execute(sql.DELETE_REDUCTIONS, resource_id)
                await conn.executemany(
                    queries.INSERT_REDUCTION, [(resource_id, k, v) for k, v in changes["reductions"].items()]
                )
            await record_audit(
                conn,
                actor=caller.account_id,
                action="resource.update",
                subject_type="resource",
                subject_id=resource_id,
                reason=", ".join(sorted(msgspec.structs.asdict(data).keys() & changes.keys())),
                at=now,
            )
            await self._resource_changed(conn, current["facility_id"], resource_id, now)
            return await self._read_resource(conn, current["facility_id"], resource_id)

    @retry_transient
    async def close_resource(self, caller: Caller, resource_id: int, data: ResourceClose) -> ResourceClosed:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await self._resource_for_update(conn, caller, resource_id)
            if current["closed_at"] is not None:
                raise Conflict("The resource is already closed.", slug="resource-closed")
            cancelled = await self._clear_bookings(
                conn, caller, current["facility_id"], resource_id, Range(now, None), data.reason,
                data.cancel_bookings, now,
            )  # fmt: skip
            await conn.execute(sql.CLOSE_RESOURCE, resource_id, now, data.reason)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="resource.close",
                subject_type="resource",
                subject_id=resource_id,
                reason=data.reason,
                at=now,
            )
            await self._resource_changed(conn, current["facility_id"], resource_id, now)
            resource = await self._read_resource(conn, current["facility_id"], resource_id)
        return ResourceClosed(resource=resource, cancelled_booking_ids=cancelled)

    @retry_transient
    async def reopen_resource(self, caller: Caller, resource_id: int) -> Resource:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await self._resource_for_update(conn, caller, resource_id)
            if current["closed_at"] is None:
                raise Conflict("The resource is open.", slug="resource-open")
            await conn.execute(sql.REOPEN_RESOURCE, resource_id)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="resource.reopen",
                subject_type="resource",
                subject_id=resource_id,
                reason=None,
                at=now,
            )
            await self._resource_changed(conn, current["facility_id"], resource_id, now)
            return await self._read_resource(conn, current["facility_id"], resource_id)

    # -- closures (休館日・メンテナンス) ---------------------------------------------

    async def _facility_owner(self, conn: asyncpg.Connection, caller: Caller, facility_id: int) -> None:
        owner = await conn.fetchval(sql.FACILITY_OWNER, facility_id)
        if owner is None:
            raise NotFound()
        self._require_staff(caller, owner)

    @retry_transient
    async def create_closure(self, caller: Caller, facility_id: int, data: ClosureCreate) -> Closure:
        now = self.ctx.clock.now()
        if data.end <= data.start:
            raise Unprocessable(errors=[FieldError(field="$.end", message="Must be after start")])
        if data.end - data.start > timedelta(days=366):
            raise Unprocessable(
                errors=[FieldError(field="$.end", message="At most a year; close the resource instead")]
            )
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._facility_owner(conn, caller, facility_id)
            if data.resource_id is not None and not await conn.fetchval(
                sql.RESOURCE_OF_FACILITY, data.resource_id, facility_id
            ):
                raise Unprocessable(
                    slug="unknown-reference",
                    errors=[FieldError(field="$.resourceId", message="No such resource in this facility")],
                )
            during = Range(data.start, data.end)
            cancelled = await self._clear_bookings(
                conn, caller, facility_id, data.resource_id, during, data.reason, data.cancel_bookings, now
            )
            row = await conn.fetchrow(
                sql.INSERT_CLOSURE, facility_id, data.resource_id, during, data.reason, caller.account_id, now
            )
            assert row is not None  # INSERT … RETURNING
            await record_audit(
                conn,
                actor=caller.account_id,
                action="closure.create",
                subject_type="closure",
                subject_id=row["id"],
                reason=data.reason,
                at=now,
            )
            await self._closure_changed(conn, facility_id, data.resource_id, data.start, data.end, now)
        return from_row(Closure, row, cancelled_booking_ids=cancelled)

    async def closures(
        self,
        caller: Caller,
        facility_id: int,
        first_day: date,
        last_day: date,
        include_lifted: bool,
        after: int,
        limit: int,
    ) -> list[Closure]:
        start, end = day_bounds(first_day)[0], day_bounds(last_day)[1]
        async with self.ctx.acquire() as conn:
            await self._facility_owner(conn, caller, facility_id)
            rows = await conn.fetch(sql.CLOSURES_OF_FACILITY, facility_id, start, end, include_lifted, after, limit)
        return from_rows(Closure, rows)

    @retry_transient
    async def lift_closure(self, caller: Caller, closure_id: int) -> Closure:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(sql.CLOSURE_FOR_UPDATE, closure_id)
            if current is None:
                raise NotFound()
            self._require_staff(caller, current["organization_id"])
            if current["lifted_at"] is not None:
                raise Conflict("The closure was already lifted.", slug="closure-lifted")
            row = await conn.fetchrow(sql.LIFT_CLOSURE, closure_id, now, caller.account_id)
            assert row is not None  # the row is locked above
            await record_audit(
                conn,
                actor=caller.account_id,
                action="closure.lift",
                subject_type="closure",
                subject_id=closure_id,
                reason=None,
                at=now,
            )
            await self._closure_changed(
                conn, current["facility_id"], current["resource_id"], row["start"], row["end"], now
            )
        return from_row(Closure, row)

    async def _clear_bookings(
        self,
        conn: asyncpg.Connection,
        caller: Caller,
        facility_id: int,
        resource_id: int | None,
        during: Range[datetime],
        reason: str,
        cancel_bookings: bool,
        now: datetime,
    ) -> list[int]:
        """Make `during` free of live bookings, or refuse: the staff's explicit choice."""
        # The gates first: from here no booking can land on this time until we commit.
        await conn.execute(sql.LOCK_RESOURCE_GATES, facility_id, resource_id)
        live = await conn.fetch(sql.LIVE_BOOKINGS_OVERLAPPING, facility_id, resource_id, during)
        if live and not cancel_bookings:
            raise Conflict(
                f"{len(live)} live booking(s) in that time: send cancelBookings: true to cancel them "
                "(each booker is told the reason), or choose another time.",
                slug="resource-has-bookings",
            )
        await conn.execute(sql.END_WAITING_IN, facility_id, resource_id, during)
        if not live:
            return []
        ids = [b["id"] for b in live]
        await conn.execute(sql.CANCEL_BOOKINGS, ids, now, reason, caller.account_id)
        events: list[tuple[str, Event]] = []
        for booking in live:
            await record_audit(
                conn,
                actor=caller.account_id,
                action="booking.cancel",
                subject_type="booking",
                subject_id=booking["id"],
                reason=reason,
                at=now,
            )
            if booking["status"] != "held":  # a hold is the system's, its waiter's entry ends above
                cancelled = BookingCancelled(
                    booking_id=booking["id"], resource_id=booking["resource_id"], reason=reason
                )
                events.append((user_topic(booking["account_id"]), cancelled))
        days = {(b["resource_id"], local_date(b["start"])): b["start"] for b in live}
        events.extend(_vacancy_changed(facility_id, resource, start) for (resource, _), start in days.items())
        await emit_all(conn, events, at=now)
        return ids

    async def _resource_changed(
        self, conn: asyncpg.Connection, facility_id: int, resource_id: int | None, now: datetime
    ) -> None:
        event = ResourceChanged(facility_id=facility_id, resource_id=resource_id)
        await emit_all(conn, [(facility_vacancy_topic(facility_id), event)], at=now)

    async def _closure_changed(
        self,
        conn: asyncpg.Connection,
        facility_id: int,
        resource_id: int | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> None:
        await self._resource_changed(conn, facility_id, resource_id, now)
        # A closure of a few days changes those days' boards; a long one is covered by resource.changed.
        first, last = local_date(start), local_date(end - timedelta(microseconds=1))
        if (last - first).days < 31:
            events = [
                _vacancy_changed(facility_id, resource_id or 0, day_bounds(first + timedelta(days=n))[0])
                for n in range((last - first).days + 1)
            ]
            await emit_all(conn, events, at=now)

    # -- the schedule (予約台帳) -------------------------------------------------

    async def schedule(
        self,
        caller: Caller,
        facility_id: int,
        first_day: date,
        last_day: date,
        after: tuple[datetime, int],
        limit: int,
    ) -> list[ScheduleEntry]:
        """Every booking on the facility's resources over [first_day, last_day] (Asia/Tokyo), ended ones
        too, with who booked: one query, and one audit row per view (it names people)."""
        if last_day < first_day or (last_day - first_day).days >= MAX_SCHEDULE_DAYS:
            raise Unprocessable(
                errors=[FieldError(field="to", message=f"Must be on or after from, at most {MAX_SCHEDULE_DAYS} days")]
            )
        start, end = day_bounds(first_day)[0], day_bounds(last_day)[1]
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._facility_owner(conn, caller, facility_id)
            rows = await conn.fetch(sql.SCHEDULE, facility_id, start, end, after[0], after[1], limit)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="facility.schedule.read",
                subject_type="facility",
                subject_id=facility_id,
                reason=f"{first_day.isoformat()}..{last_day.isoformat()}: {len(rows)} booking(s)",
                at=now,
            )
        return from_rows(ScheduleEntry, rows)

    @retry_transient
    async def mark_no_show(self, caller: Caller, booking_id: int) -> Booking:
        """The booker did not come (無断キャンセル). The booking stays confirmed; its fee stays due."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.BOOKING_FOR_CHANGE, booking_id)
            if current is None:
                raise NotFound()
            self._require_staff(caller, current["organization_id"])
            if current["status"] != "confirmed":
                raise Conflict(f"The booking is {current['status']}.", slug="not-confirmed")
            if now < current["start"]:
                raise Conflict("The booking has not started yet.", slug="not-started")
            row = await conn.fetchrow(sql.MARK_NO_SHOW, booking_id, now, caller.account_id)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="booking.no_show",
                subject_type="booking",
                subject_id=booking_id,
                reason=None,
                at=now,
            )
            no_show = BookingNoShow(booking_id=booking_id, resource_id=current["resource_id"])
            await emit_all(conn, [(user_topic(current["account_id"]), no_show)], at=now)
        return _booking(row)


CSV_HEADER = (
    "予約番号", "施設", "開始", "終了", "状態", "予約者", "料金",
    "減免", "減免承認", "支払", "支払期限", "無断欠席", "取消理由",
)  # fmt: skip


def schedule_csv(entries: Sequence[ScheduleEntry]) -> bytes:
    """The schedule for the counter, as Excel opens it: UTF-8 with a BOM, CRLF, times in JST."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        writer.writerow(
            [
                e.id,
                _cell(e.resource_name),
                e.start.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M"),
                e.end.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M"),
                e.status,
                _cell(e.booker_name),
                e.fee,
                _cell(e.reduction or ""),
                "yes" if e.reduction_approved_at else "",
                e.payment,
                e.pay_by.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if e.pay_by else "",
                "yes" if e.no_show_at else "",
                _cell(e.end_reason or ""),
            ]
        )
    return "\ufeff".encode() + out.getvalue().encode()


def _cell(text: str) -> str:
    # A name typed as "=HYPERLINK(…)" must stay text in Excel, not become a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
