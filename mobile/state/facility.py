"""The facility staff's home: their facilities and resources (edit, close, reopen), closures
(休館日・メンテナンス), the day's schedule (予約台帳) with who booked and the payment state and the
counter's actions on a booking, and the lotteries (抽選) of the organisation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.events import BookingCancelled, BookingCreated, BookingNoShow, Event, VacancyChanged
from schema.facilities import Closure, OwnFacility, Resource, ScheduleEntry
from schema.lottery import LotteryOverview
from schema.time import TOKYO

# A booking made or cancelled elsewhere changes the schedule on screen.
SCHEDULE_EVENTS = (BookingCreated, BookingCancelled, BookingNoShow, VacancyChanged)
LIVE = ("held", "provisional", "confirmed")
SECTIONS = ("schedule", "resources", "closures", "lotteries")
CSV_DAYS = 7  # the export covers the week from the day shown: what the counter prints on Monday

HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# Server field paths → the label of the field on the form, so a refusal names the field in the
# person's language; the server's words are kept only when no translation is known.
FIELD_LABELS = {
    "$.name": "resource_name",
    "$.opensAt": "opens_at",
    "$.closesAt": "closes_at",
    "$.feePerUnit": "fee_per_unit",
    "$.nonResidentFeePerUnit": "non_resident_fee",
    "$.maxBookingsPerMonth": "monthly_cap",
    "$.residentHorizonMonths": "resident_horizon",
    "$.nonResidentHorizonMonths": "non_resident_horizon",
    "$.month": "lottery_month",
    "$.resourceIds": "lottery_resource",
    "$.perUserCap": "per_user_cap",
    "$.start": "first_day",
    "$.end": "last_day",
    "$.reason": "closure_reason",
}
SERVER_MESSAGES = {
    "Opening hours must be a whole number of units": "hours_whole_units",
    "Must be after opensAt, not after firstComeAt": "closes_after_now",
    "Must be after start": "last_after_first",
    "At most a year; close the resource instead": "closure_too_long",
}

FormErrors = list[tuple[str, str]]  # (field label key, message key), both translated by the view


def today() -> date:
    return datetime.now(TOKYO).date()


def _whole(text: str, low: int, high: int) -> int | None:
    """A whole number typed on the form (full-width digits too), or None when it is not one in range."""
    cleaned = text.strip().replace(",", "").replace("¥", "")
    try:
        value = int(cleaned)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def field_errors(error: ApiError) -> FormErrors:
    """A 422's field errors as (label, message) keys; unknown words fall back to "check the value"."""
    return [
        (
            FIELD_LABELS.get(e.field, e.field),
            SERVER_MESSAGES.get(e.message, "bad_value"),
        )
        for e in error.errors
    ]


@dataclass
class ResourceForm:
    """The resource being edited, as typed: text until it is sent, so a half-typed fee is not lost."""

    resource_id: int
    name: str
    opens_at: str
    closes_at: str
    fee_per_unit: str
    non_resident_fee: str
    monthly_cap: str
    resident_horizon: str
    non_resident_horizon: str

    @classmethod
    def of(cls, resource: Resource) -> ResourceForm:
        def text(value: object) -> str:
            return "" if value is None else str(value)

        return cls(
            resource_id=resource.id,
            name=resource.name,
            opens_at=f"{resource.opens_at:%H:%M}",
            closes_at=f"{resource.closes_at:%H:%M}",
            fee_per_unit=text(resource.fee_per_unit),
            non_resident_fee=text(resource.non_resident_fee_per_unit),
            monthly_cap=text(resource.max_bookings_per_month),
            resident_horizon=text(resource.resident_horizon_months),
            non_resident_horizon=text(resource.non_resident_horizon_months),
        )

    def patch(self) -> tuple[dict[str, Any], FormErrors]:
        """The PATCH body, or what is wrong with the form (checked here so the words are ours)."""
        errors: FormErrors = []
        body: dict[str, Any] = {}
        if not self.name.strip():
            errors.append(("resource_name", "required"))
        body["name"] = self.name.strip()
        for key, text, label in (("opensAt", self.opens_at, "opens_at"), ("closesAt", self.closes_at, "closes_at")):
            if HHMM.match(text.strip()):
                body[key] = text.strip() + ":00"
            else:
                errors.append((label, "bad_time"))
        if "opensAt" in body and "closesAt" in body and body["closesAt"] <= body["opensAt"]:
            errors.append(("closes_at", "closes_after_opens"))
        fee = _whole(self.fee_per_unit, 0, 10_000_000)
        if fee is None:
            errors.append(("fee_per_unit", "bad_yen"))
        body["feePerUnit"] = fee
        optional = (
            ("nonResidentFeePerUnit", self.non_resident_fee, "non_resident_fee", 0, 10_000_000, "bad_yen"),
            ("maxBookingsPerMonth", self.monthly_cap, "monthly_cap", 1, 1000, "bad_cap"),
            ("residentHorizonMonths", self.resident_horizon, "resident_horizon", 1, 24, "bad_horizon"),
            ("nonResidentHorizonMonths", self.non_resident_horizon, "non_resident_horizon", 1, 24, "bad_horizon"),
        )
        for key, text, label, low, high, problem in optional:
            if not text.strip():
                body[key] = None  # blank clears it: no non-resident rate, no cap, no horizon
                continue
            value = _whole(text, low, high)
            if value is None:
                errors.append((label, problem))
            body[key] = value
        return body, errors


@dataclass
class ClosureForm:
    """A closure to add: whole days (JST) from first to last, the whole facility or one resource."""

    first_day: str
    last_day: str
    reason: str = ""
    resource_id: int | None = None  # None: the whole facility
    cancel_bookings: bool = False

    def body(self) -> tuple[dict[str, Any], FormErrors]:
        errors: FormErrors = []
        first, last = _day(self.first_day), _day(self.last_day)
        if first is None:
            errors.append(("first_day", "bad_date"))
        if last is None:
            errors.append(("last_day", "bad_date"))
        if first is not None and last is not None and last < first:
            errors.append(("last_day", "last_after_first"))
        if not self.reason.strip():
            errors.append(("closure_reason", "required"))
        if errors or first is None or last is None:
            return {}, errors
        start = datetime.combine(first, time(), TOKYO)
        end = datetime.combine(last + timedelta(days=1), time(), TOKYO)
        body: dict[str, Any] = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "reason": self.reason.strip(),
            "cancelBookings": self.cancel_bookings,
        }
        if self.resource_id is not None:
            body["resourceId"] = self.resource_id
        return body, errors


def _next_month() -> str:
    first = today().replace(day=1)
    return (first + timedelta(days=32)).strftime("%Y-%m")


def _default_close() -> str:
    return f"{today() + timedelta(days=14)} 17:00"


@dataclass
class LotteryForm:
    """A lottery to open for one resource and month; applications open at once and close when given."""

    resource_id: int | None = None
    month: str = field(default_factory=_next_month)
    closes_at: str = field(default_factory=_default_close)  # YYYY-MM-DD HH:MM, Japan time
    per_user_cap: str = "2"

    def body(self) -> tuple[dict[str, Any], FormErrors]:
        errors: FormErrors = []
        if self.resource_id is None:
            errors.append(("lottery_resource", "required"))
        if not MONTH.match(self.month.strip()):
            errors.append(("lottery_month", "bad_month"))
        closes: datetime | None = None
        try:
            closes = datetime.strptime(self.closes_at.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=TOKYO)
        except ValueError:
            errors.append(("lottery_closes", "bad_datetime"))
        now = datetime.now(TOKYO)
        if closes is not None and closes <= now:
            errors.append(("lottery_closes", "closes_after_now"))
        cap = _whole(self.per_user_cap, 1, 20)
        if cap is None:
            errors.append(("per_user_cap", "bad_per_user_cap"))
        if errors or closes is None:
            return {}, errors
        return {
            "resourceIds": [self.resource_id],
            "month": self.month.strip(),
            "opensAt": now.isoformat(),
            "closesAt": closes.isoformat(),
            "perUserCap": cap,
        }, errors


@dataclass
class FacilityModel:
    api: MusubiApi
    organization_id: int
    day: date = field(default_factory=today)
    section: str = "schedule"
    facilities: list[OwnFacility] = field(default_factory=list)  # each with its resources
    facility_id: int | None = None  # the one whose schedule is shown
    schedule: list[ScheduleEntry] = field(default_factory=list)  # the day's bookings by start time
    day_closures: list[Closure] = field(default_factory=list)  # closures touching the day shown
    closures: list[Closure] = field(default_factory=list)  # from today on, for the closures list
    lotteries: list[LotteryOverview] = field(default_factory=list)  # the organisation's, newest first
    editing: ResourceForm | None = None
    closure_form: ClosureForm | None = None
    lottery_form: LotteryForm | None = None
    form_errors: FormErrors = field(default_factory=list)  # of the form being sent
    notice: str | None = None  # a label key: what the last action did, e.g. "saved"
    error: Failure | None = None

    async def load(self) -> None:
        self.facilities = msgspec.convert(
            await self.api.get(f"/v1/organizations/{self.organization_id}/facilities"), list[OwnFacility]
        )
        known = {f.id for f in self.facilities}
        if self.facility_id not in known:
            self.facility_id = self.facilities[0].id if self.facilities else None
        if self.facility_id is None:
            self.schedule, self.day_closures, self.closures = [], [], []
            return
        if self.section == "schedule":
            days = {"from": str(self.day), "to": str(self.day)}
            self.schedule = msgspec.convert(
                await self.api.get(f"/v1/facilities/{self.facility_id}/bookings", **days), list[ScheduleEntry]
            )
            self.day_closures = msgspec.convert(
                await self.api.get(f"/v1/facilities/{self.facility_id}/closures", **days), list[Closure]
            )
        elif self.section == "closures":
            year = {"from": str(today()), "to": str(today() + timedelta(days=365))}
            self.closures = msgspec.convert(
                await self.api.get(f"/v1/facilities/{self.facility_id}/closures", **year), list[Closure]
            )
        elif self.section == "lotteries":
            self.lotteries = sorted(
                msgspec.convert(
                    await self.api.get(f"/v1/organizations/{self.organization_id}/lotteries"), list[LotteryOverview]
                ),
                key=lambda lottery: -lottery.id,
            )
            form = self.lottery_form
            if form is not None and form.resource_id not in {r.id for r in self.resources}:
                form.resource_id = next((r.id for r in self.resources if r.closed_at is None), None)

    @property
    def facility(self) -> OwnFacility | None:
        return next((f for f in self.facilities if f.id == self.facility_id), None)

    @property
    def resources(self) -> list[Resource]:
        facility = self.facility
        return list(facility.resources) if facility is not None else []

    def resource_name(self, resource_id: int | None) -> str | None:
        """A resource of any of the organisation's facilities by id (None: the whole facility)."""
        for facility in self.facilities:
            for resource in facility.resources:
                if resource.id == resource_id:
                    return resource.name
        return None

    async def _do(self, work: Callable[[], Awaitable[object]], done: str | None = None) -> bool:
        """Run one action, then refetch: the screen shows what the server now holds."""
        self.error = None
        self.notice = None
        self.form_errors = []
        try:
            await work()
        except ApiError as error:
            self.error = error
            self.form_errors = field_errors(error)
            return False
        finally:
            try:
                await self.load()
            except ApiError as error:
                self.error = self.error or error
        self.notice = done
        return True

    async def resync(self) -> None:
        await self._do(_nothing)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, SCHEDULE_EVENTS):
            await self.resync()

    async def choose(self, facility_id: int) -> None:
        self.facility_id = facility_id
        self.editing = self.closure_form = self.lottery_form = None
        await self.resync()

    async def show(self, section: str) -> None:
        self.section = section
        await self.resync()

    async def shift_day(self, days: int) -> None:
        self.day += timedelta(days=days)
        await self.resync()

    # -- the counter -----------------------------------------------------------------------------

    async def record_payment(self, booking_id: int) -> bool:
        return await self._do(lambda: self.api.post(f"/v1/bookings/{booking_id}/payment"))

    async def approve_reduction(self, booking_id: int) -> bool:
        return await self._do(lambda: self.api.post(f"/v1/bookings/{booking_id}/reduction-approval"))

    async def no_show(self, booking_id: int) -> bool:
        return await self._do(lambda: self.api.post(f"/v1/bookings/{booking_id}/no-show"))

    async def cancel(self, booking_id: int, reason: str) -> bool:
        """Cancel on the booker's behalf: the booker is told why, so a reason is required."""
        if not reason.strip():
            self.error = "reason_needed"
            return False
        return await self._do(lambda: self.api.post(f"/v1/bookings/{booking_id}/cancel", {"reason": reason.strip()}))

    async def schedule_csv(self) -> bytes | None:
        """The week from the day shown as CSV (UTF-8 with BOM, for Excel at the counter)."""
        self.error = None
        last = self.day + timedelta(days=CSV_DAYS - 1)
        try:
            return await self.api.download(
                f"/v1/facilities/{self.facility_id}/bookings?from={self.day}&to={last}&format=csv"
            )
        except ApiError as error:
            self.error = error
            return None

    @property
    def csv_name(self) -> str:
        return f"schedule-{self.facility_id}-{self.day}.csv"

    # -- resources -------------------------------------------------------------------------------

    async def edit(self, resource: Resource) -> None:
        self.editing = ResourceForm.of(resource)
        self.form_errors, self.error, self.notice = [], None, None

    async def stop_editing(self) -> None:
        self.editing = None
        self.form_errors = []

    async def save_resource(self) -> bool:
        form = self.editing
        if form is None:
            return False
        body, errors = form.patch()
        if errors:
            self.form_errors, self.error, self.notice = errors, "check_form", None
            return False
        if await self._do(lambda: self.api.request("PATCH", f"/v1/resources/{form.resource_id}", body), "notice_saved"):
            self.editing = None
            return True
        return False

    async def close_resource(self, resource_id: int, reason: str, cancel_bookings: bool | None) -> bool:
        """Close from now on. With future bookings the staff chose beforehand: cancel them (each booker
        told the reason) or refuse, in which case the server answers `resource-has-bookings`."""
        if not reason.strip():
            self.error = "reason_needed"
            return False
        if cancel_bookings is None:
            self.error = "choose_bookings"
            return False
        body = {"reason": reason.strip(), "cancelBookings": cancel_bookings}
        return await self._do(lambda: self.api.post(f"/v1/resources/{resource_id}/close", body), "notice_closed")

    async def reopen_resource(self, resource_id: int) -> bool:
        return await self._do(lambda: self.api.post(f"/v1/resources/{resource_id}/reopen"), "notice_reopened")

    # -- closures --------------------------------------------------------------------------------

    async def new_closure(self) -> None:
        self.closure_form = ClosureForm(first_day=str(self.day), last_day=str(self.day))
        self.form_errors, self.error, self.notice = [], None, None

    async def drop_closure_form(self) -> None:
        self.closure_form = None
        self.form_errors = []

    async def add_closure(self) -> bool:
        form = self.closure_form
        if form is None or self.facility_id is None:
            return False
        body, errors = form.body()
        if errors:
            self.form_errors, self.error, self.notice = errors, "check_form", None
            return False
        path = f"/v1/facilities/{self.facility_id}/closures"
        if await self._do(lambda: self.api.post(path, body), "notice_closure_added"):
            self.closure_form = None
            return True
        return False

    async def lift_closure(self, closure_id: int) -> bool:
        return await self._do(lambda: self.api.post(f"/v1/closures/{closure_id}/lift"), "notice_closure_lifted")

    # -- lotteries -------------------------------------------------------------------------------

    async def new_lottery(self) -> None:
        open_ones = [r.id for r in self.resources if r.closed_at is None]
        self.lottery_form = LotteryForm(resource_id=open_ones[0] if open_ones else None)
        self.form_errors, self.error, self.notice = [], None, None

    async def drop_lottery_form(self) -> None:
        self.lottery_form = None
        self.form_errors = []

    async def create_lottery(self) -> bool:
        form = self.lottery_form
        if form is None:
            return False
        body, errors = form.body()
        if errors:
            self.form_errors, self.error, self.notice = errors, "check_form", None
            return False
        if await self._do(lambda: self.api.post("/v1/lotteries", body), "notice_lottery_created"):
            self.lottery_form = None
            return True
        return False

    async def draw(self, lottery_id: int) -> bool:
        """Draw once: the seed is revealed and the results published for anyone to recompute."""
        return await self._do(lambda: self.api.post(f"/v1/lotteries/{lottery_id}/draw"), "notice_drawn")

    async def cancel_lottery(self, lottery_id: int, reason: str) -> bool:
        if not reason.strip():
            self.error = "reason_needed"
            return False
        body = {"reason": reason.strip()}
        return await self._do(
            lambda: self.api.post(f"/v1/lotteries/{lottery_id}/cancel", body), "notice_lottery_cancelled"
        )

    def verification_url(self, lottery_id: int) -> str:
        """The public record of a lottery: commitment, pseudonymised applications, seed and results."""
        return f"{self.api.base_url}/v1/lotteries/{lottery_id}"


async def _nothing() -> None:
    return None
