"""The resident's and parent's home: facility vacancies, bookings, lotteries, childcare."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from mobile.state.lottery import LotteryForm, add_preference, choose_resource, new_form, remove_preference
from mobile.state.resident import SearchFilters, today, week_start
from schema.accounts import Residency
from schema.childcare import Application as NurseryApplication
from schema.childcare import ApplicationCreate as NurseryApplicationCreate
from schema.childcare import Availability, Child, MyReservation, ReservationCreate
from schema.events import (
    BookingCancelled,
    BookingCreated,
    ChildApplicationDecided,
    ChildcareCancelled,
    ChildcareOffered,
    ChildcareReserved,
    ChildMeetingSet,
    Event,
    LotteryResult,
    NurseryAvailabilityChanged,
    VacancyChanged,
    WaitlistOffered,
)
from schema.facilities import (
    Booking,
    BookingCreate,
    FacilityAvailability,
    FacilityDetail,
    Municipality,
    Resource,
    Vacancy,
    WaitlistCreate,
    WaitlistEntry,
)
from schema.lottery import ApplicationCreate, LotterySummary, MyApplication
from schema.time import TOKYO

SEARCH_PAGE = 20  # facilities per page of the week grid


@dataclass(frozen=True)
class Quote:
    """What the confirmation sheet shows: both rates when they differ, the reductions on offer
    and the deadlines."""

    resident: int
    non_resident: int | None
    reductions: list[str]
    cancel_by: datetime
    pay_by: datetime


@dataclass
class ResidentModel:
    """Facility search (a week grid per facility, a day's slots once a day is opened) and bookings;
    for parents, children, childcare search and applications to nurseries."""

    api: MusubiApi
    day: date = field(default_factory=lambda: date.today() + timedelta(days=1))  # the opened day
    facility_id: int | None = None  # the facility whose day is opened; None: every facility's day
    vacancies: list[Vacancy] = field(default_factory=list)  # the opened day's units
    filters: SearchFilters = field(default_factory=SearchFilters)
    municipalities: list[Municipality] = field(default_factory=list)
    home_municipality: int | None = None  # the verified residency, the search's default
    week: list[FacilityAvailability] = field(default_factory=list)  # facilities with their days
    more_facilities: bool = False  # the server linked a next page
    next_facilities: str | None = None  # its cursor, as the server's Link header named it
    # "Near me": the device's position when the person allowed it; the search then runs nearest first.
    near: tuple[float, float] | None = None
    childcare_day: date = field(default_factory=lambda: today() + timedelta(days=1))
    applications_to: dict[int, dict[int, str]] = field(default_factory=dict)  # child → nursery → status
    # child → its applications to nurseries, with the meeting (面談) each nursery set
    nursery_applications: dict[int, list[NurseryApplication]] = field(default_factory=dict)
    # The parent's form for a new child, bound field by field so a redraw never wipes typing.
    child_name: str = ""
    child_birth: str = ""
    child_allergies: str = ""
    bookings: list[Booking] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    childcare: dict[int, list[Availability]] = field(default_factory=dict)  # child id → ◯△× per session
    reservations: list[MyReservation] = field(default_factory=list)
    lotteries: list[LotterySummary] = field(default_factory=list)  # open for applications
    applications: list[MyApplication] = field(default_factory=list)  # the caller's, with results
    forms: dict[int, LotteryForm] = field(default_factory=dict)  # lottery id → its application being filled in
    # Lotteries the caller has applied to and asked to fill in another application for (within the cap).
    applying_again: set[int] = field(default_factory=set)
    places: dict[int, str] = field(default_factory=dict)  # resource id → "facility · resource"
    resources: dict[int, Resource] = field(default_factory=dict)  # resource id → its fees and rules
    confirming: Vacancy | None = None  # the slot in the confirmation sheet
    reduction: str | None = None  # the 減免 category claimed in the sheet
    facilities_known: set[int] = field(default_factory=set)
    waiting: set[tuple[int, datetime]] = field(default_factory=set)  # (resource id, start) the caller waits for
    error: Failure | None = None

    async def load(self) -> None:
        if not self.municipalities:
            self.municipalities = msgspec.convert(await self.api.get("/v1/municipalities"), list[Municipality])
        await self.search()
        # Booked slots stay on screen: that is where a resident joins the waitlist.
        if self.facility_id is not None:
            self.vacancies = await self._vacancies(self.facility_id, self.day)
        self.bookings = msgspec.convert(await self.api.get("/v1/me/bookings"), list[Booking])
        entries = msgspec.convert(await self.api.get("/v1/me/waitlist", limit=200), list[WaitlistEntry])
        self.waiting = {(e.resource_id, e.start) for e in entries if e.status in ("waiting", "offered")}
        self.children = msgspec.convert(await self.api.get("/v1/children"), list[Child])
        self.reservations = msgspec.convert(await self.api.get("/v1/childcare/reservations"), list[MyReservation])
        self.lotteries = msgspec.convert(await self.api.get("/v1/lotteries", state="open"), list[LotterySummary])
        self.applications = msgspec.convert(await self.api.get("/v1/me/lottery-applications"), list[MyApplication])
        self.childcare = {
            child.id: msgspec.convert(
                await self.api.get(
                    "/v1/childcare/availability",
                    date=str(self.childcare_day),
                    childId=child.id,
                    municipalityId=self.filters.municipality_id,
                ),
                list[Availability],
            )
            for child in self.children
        }
        self.nursery_applications = {
            child.id: msgspec.convert(
                await self.api.get(f"/v1/children/{child.id}/applications", limit=200), list[NurseryApplication]
            )
            for child in self.children
        }
        self.applications_to = {
            child_id: {a.nursery_id: a.status for a in applications}
            for child_id, applications in self.nursery_applications.items()
        }
        await self._learn_places({v.facility_id for v in self.vacancies} | {b.facility_id for b in self.bookings})

    def meetings(self, child_id: int) -> list[NurseryApplication]:
        """The child's coming meetings (面談) with nurseries, soonest first: those of applications still
        open or approved; a declined or withdrawn application's meeting is off."""
        now = datetime.now(UTC)
        coming = [
            a
            for a in self.nursery_applications.get(child_id, [])
            if a.status in ("pending", "approved") and a.meeting_at is not None and a.meeting_at > now
        ]
        return sorted(coming, key=lambda a: a.meeting_at or now)

    async def _vacancies(self, facility_id: int, day: date) -> list[Vacancy]:
        found = await self.api.get("/v1/vacancies", date=str(day), facilityId=facility_id, limit=200)
        return msgspec.convert(found, list[Vacancy])

    # -- search: filters, the week grid, a day's slots ------------------------------------------

    async def start_search(self, remembered: SearchFilters | None) -> None:
        """The first search: what this device remembered, else the resident's own municipality."""
        try:
            residency: Residency | None = msgspec.convert(await self.api.get("/v1/me/residency"), Residency)
        except ApiError:
            residency = None  # none declared (404): search the whole prefecture
        if residency is not None and residency.status == "verified":
            self.home_municipality = residency.municipality_id
        self.filters = remembered or SearchFilters(municipality_id=self.home_municipality)
        await self.load()

    def opens_later(self, vacancy: Vacancy, facility: FacilityAvailability) -> bool:
        """A free unit this person cannot book yet: beyond the horizon for residents, or for
        non-residents when they are not one of the facility's municipality."""
        if vacancy.opens_for_booking_at is not None:
            return True
        resident = self.home_municipality == facility.municipality_id
        return vacancy.opens_for_non_residents_at is not None and not resident

    @property
    def week_from(self) -> date:
        return week_start(today(), self.filters.week)

    async def search(self, more: bool = False) -> None:
        """One page of facilities with their week; `more` appends the next page (the server's cursor)."""
        found, following = await self.api.get_page(
            "/v1/facilities/availability",
            **{"from": str(self.week_from)},
            days=7,
            municipalityId=None if self.near is not None else self.filters.municipality_id,
            kind=self.filters.kind,
            near=f"{self.near[0]:.6f},{self.near[1]:.6f}" if self.near is not None else None,
            cursor=self.next_facilities if more else None,
            limit=SEARCH_PAGE,
        )
        page = msgspec.convert(found, list[FacilityAvailability])
        self.week = [*self.week, *page] if more else page
        self.next_facilities = following
        self.more_facilities = following is not None

    async def set_filters(self, **changes: Any) -> None:
        """Search again with the changed filters; an opened day closes (it may no longer be listed)."""
        for name, value in changes.items():
            setattr(self.filters, name, value)
        if "municipality_id" in changes:
            self.near = None  # a municipality chosen: no longer "near me"
        self.facility_id = None
        self.vacancies = []
        await self._refresh_search()

    async def search_near(self, position: tuple[float, float] | None) -> None:
        """ "Near me": the whole prefecture nearest first from `position`; without one (the person did not
        allow it, or the device has no fix) the municipality stays and the person is told why."""
        if position is None:
            self.error = "location_unavailable"
            return
        self.near = position
        self.facility_id = None
        self.vacancies = []
        await self._refresh_search()

    async def show_more(self) -> None:
        await self._refresh_search(more=True)

    async def _refresh_search(self, more: bool = False) -> None:
        self.error = None
        try:
            if self.children and not more:
                await self.load()  # the childcare search follows the municipality too
            else:
                await self.search(more=more)
        except ApiError as error:
            self.error = error

    async def open_day(self, facility_id: int, day: date) -> None:
        """Tap on a day of the grid: that facility's units of that day, to book or wait for."""
        self.facility_id, self.day = facility_id, day
        self.error = None
        try:
            self.vacancies = await self._vacancies(facility_id, day)
            await self._learn_places({facility_id})
        except ApiError as error:
            self.error = error

    async def close_day(self) -> None:
        self.facility_id = None
        self.vacancies = []

    # -- children and nurseries -----------------------------------------------------------------

    async def next_childcare_day(self, days: int) -> None:
        self.childcare_day = max(today(), self.childcare_day + timedelta(days=days))
        await self.resync()

    async def register_child(self) -> bool:
        name, birth = self.child_name.strip(), self.child_birth.strip()
        if not name or not birth:
            self.error = "name_and_birth_needed"
            return False
        allergies = [a.strip() for a in self.child_allergies.replace("、", ",").split(",") if a.strip()]
        registered = await self._do("POST", "/v1/children", {"name": name, "birthDate": birth, "allergies": allergies})
        if registered:
            self.child_name = self.child_birth = self.child_allergies = ""
        return registered

    async def apply_to_nursery(self, child_id: int, nursery_id: int) -> bool:
        """Ask the nursery to meet the child (面談); it may take reservations once it has approved."""
        body = NurseryApplicationCreate(nursery_id=nursery_id)
        return await self._do("POST", f"/v1/children/{child_id}/applications", msgspec.to_builtins(body))

    async def _learn_places(self, facility_ids: set[int]) -> None:
        """Names for the facilities on screen, each facility fetched once."""
        for facility_id in sorted(facility_ids - self.facilities_known):
            facility = msgspec.convert(await self.api.get(f"/v1/facilities/{facility_id}"), FacilityDetail)
            for resource in facility.resources:
                self.places[resource.id] = f"{facility.name} · {resource.name}"
                self.resources[resource.id] = resource
            self.facilities_known.add(facility_id)

    def place(self, resource_id: int) -> str:
        return self.places.get(resource_id, f"#{resource_id}")

    @property
    def mine(self) -> set[tuple[int, datetime]]:
        """The slots the caller holds a live booking for: no waitlist button on one's own booking."""
        live = ("provisional", "confirmed", "held")
        return {(b.resource_id, b.start) for b in self.bookings if b.status in live}

    async def calendar(self) -> bytes | None:
        """The caller's upcoming bookings as an iCalendar file, for the phone's calendar app."""
        self.error = None
        try:
            return await self.api.download("/v1/me/calendar.ics")
        except ApiError as error:
            self.error = error
            return None

    async def _do(self, method: str, path: str, body: Any = None) -> bool:
        self.error = None
        try:
            await self.api.request(method, path, body if body is not None else {})
        except ApiError as error:
            self.error = error
            return False
        await self.load()
        return True

    async def next_day(self, days: int) -> None:
        self.day += timedelta(days=days)
        await self.load()

    async def ask_to_book(self, vacancy: Vacancy) -> None:
        """Open the confirmation sheet: nothing is booked before the resident has seen the fee and rules."""
        self.confirming, self.reduction = vacancy, None

    async def close_sheet(self) -> None:
        self.confirming, self.reduction = None, None

    def quote(self, vacancy: Vacancy) -> Quote:
        """What the sheet shows, by the same rule as the server (units × rate, less the reduction,
        rounded down). Which rate applies the server decides from the registered address, so both
        are shown when they differ."""
        resource = self.resources.get(vacancy.resource_id)
        reductions = resource.reductions if resource is not None else {}
        units = (vacancy.end - vacancy.start) // timedelta(minutes=resource.unit_minutes if resource else 60)
        percent = reductions.get(self.reduction, 0) if self.reduction else 0

        def fee(rate: int | None) -> int | None:
            return None if rate is None else int(units * rate * (100 - percent) // 100)

        now = datetime.now(TOKYO)
        return Quote(
            resident=fee(resource.fee_per_unit if resource else 0) or 0,
            non_resident=fee(resource.non_resident_fee_per_unit if resource else None),
            reductions=sorted(reductions),
            cancel_by=vacancy.start - timedelta(hours=resource.cancel_deadline_hours if resource else 0),
            pay_by=min(now + timedelta(hours=resource.payment_deadline_hours if resource else 72), vacancy.start),
        )

    async def confirm(self) -> bool:
        vacancy = self.confirming
        if vacancy is None:
            return False
        body = BookingCreate(
            resource_id=vacancy.resource_id, start=vacancy.start, end=vacancy.end, reduction=self.reduction or None
        )
        booked = await self._do("POST", "/v1/bookings", msgspec.to_builtins(body))
        if booked:
            await self.close_sheet()
        return booked

    async def book(self, vacancy: Vacancy) -> bool:
        await self.ask_to_book(vacancy)
        return await self.confirm()

    async def join_waitlist(self, vacancy: Vacancy) -> bool:
        body = WaitlistCreate(resource_id=vacancy.resource_id, start=vacancy.start, end=vacancy.end)
        return await self._do("POST", "/v1/waitlist", msgspec.to_builtins(body))

    async def take_hold(self, held: Booking) -> bool:
        """A waitlist offer: the held slot becomes the caller's booking in one tap."""
        slot = BookingCreate(resource_id=held.resource_id, start=held.start, end=held.end)
        return await self._do("POST", "/v1/bookings", msgspec.to_builtins(slot))

    # -- lotteries: one application form per open lottery (mobile/state/lottery.py) --------------

    def lottery_form(self, lottery: LotterySummary) -> LotteryForm:
        form = self.forms.get(lottery.id)
        if form is None:
            form = self.forms[lottery.id] = new_form(lottery, datetime.now(TOKYO))
        return form

    def applied_to(self, lottery_id: int) -> list[MyApplication]:
        """The caller's applications to one lottery (at most its perUserCap)."""
        return [a for a in self.applications if a.lottery_id == lottery_id]

    def filling_in(self, lottery: LotterySummary) -> bool:
        """Whether the form shows: always before a first application; after it, once asked for."""
        return not self.applied_to(lottery.id) or lottery.id in self.applying_again

    async def apply_again(self, lottery: LotterySummary) -> None:
        self.applying_again.add(lottery.id)

    def choose_lottery_resource(self, lottery: LotterySummary, resource_id: int) -> None:
        choose_resource(self.lottery_form(lottery), lottery, resource_id)

    def choose_lottery_day(self, lottery: LotterySummary, day: date) -> None:
        form = self.lottery_form(lottery)
        form.day, form.problem, form.clash = day, None, None

    def choose_lottery_start(self, lottery: LotterySummary, start: time) -> None:
        form = self.lottery_form(lottery)
        form.start, form.problem, form.clash = start, None, None

    async def add_lottery_preference(self, lottery: LotterySummary) -> bool:
        return add_preference(self.lottery_form(lottery), lottery)

    async def remove_lottery_preference(self, lottery: LotterySummary, rank: int) -> None:
        remove_preference(self.lottery_form(lottery), rank)

    async def apply(self, lottery: LotterySummary) -> bool:
        """Send the ranked preferences as one application; the server's refusal stays on the form."""
        form = self.lottery_form(lottery)
        form.failure = None
        if not form.preferences:
            form.problem, form.clash = "add_a_preference", None
            return False
        body = msgspec.to_builtins(ApplicationCreate(preferences=[c.preference() for c in form.preferences]))
        try:
            await self.api.request("POST", f"/v1/lotteries/{lottery.id}/applications", body)
        except ApiError as error:
            form.failure = error
            return False
        del self.forms[lottery.id]
        self.applying_again.discard(lottery.id)
        await self.resync()
        return True

    async def cancel_reservation(self, reservation_id: int) -> bool:
        return await self._do("POST", f"/v1/childcare/reservations/{reservation_id}/cancel")

    async def cancel(self, booking_id: int) -> bool:
        return await self._do("POST", f"/v1/bookings/{booking_id}/cancel")

    async def reserve(self, child_id: int, session_id: int) -> bool:
        body = ReservationCreate(session_id=session_id, child_id=child_id)
        return await self._do("POST", "/v1/childcare/reservations", msgspec.to_builtins(body))

    async def on_event(self, event: Event) -> None:
        match event:
            case (
                BookingCreated()
                | BookingCancelled()
                | VacancyChanged()
                | WaitlistOffered()
                | LotteryResult()
                | ChildcareReserved()
                | ChildcareCancelled()
                | ChildcareOffered()
                | NurseryAvailabilityChanged()
                | ChildApplicationDecided()
                | ChildMeetingSet()
            ):
                await self.resync()

    async def resync(self) -> None:
        try:
            await self.load()
        except ApiError as error:
            self.error = error
