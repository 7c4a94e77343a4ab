"""The resident's and parent's home: facility vacancies, bookings, lotteries, childcare."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mobile.api import ApiError, Failure, MusubiApi
from mobile.state.resident import SearchFilters, today, week_start
from schema.events import (
    BookingCancelled,
    BookingCreated,
    ChildcareCancelled,
    ChildcareOffered,
    ChildcareReserved,
    Event,
    LotteryResult,
    NurseryAvailabilityChanged,
    VacancyChanged,
    WaitlistOffered,
)
from schema.time import TOKYO

SEARCH_PAGE = 20  # facilities per page of the week grid


@dataclass
class ResidentModel:
    """Facility search (a week grid per facility, a day's slots once a day is opened) and bookings;
    for parents, children, childcare search and applications to nurseries."""

    api: MusubiApi
    day: date = field(default_factory=lambda: date.today() + timedelta(days=1))  # the opened day
    facility_id: int | None = None  # the facility whose day is opened; None: every facility's day
    vacancies: list[dict[str, Any]] = field(default_factory=list)  # the opened day's units
    filters: SearchFilters = field(default_factory=SearchFilters)
    municipalities: list[dict[str, Any]] = field(default_factory=list)
    home_municipality: int | None = None  # the verified residency, the search's default
    week: list[dict[str, Any]] = field(default_factory=list)  # facilities with their days
    more_facilities: bool = False  # the server linked a next page
    next_cursor: str | None = None  # where that page starts
    # "Near me": the device's position when the person allowed it; the search then runs nearest first.
    near: tuple[float, float] | None = None
    childcare_day: date = field(default_factory=lambda: today() + timedelta(days=1))
    applications_to: dict[int, dict[int, str]] = field(default_factory=dict)  # child → nursery → status
    # The parent's form for a new child, bound field by field so a redraw never wipes typing.
    child_name: str = ""
    child_birth: str = ""
    child_allergies: str = ""
    bookings: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)
    childcare: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # child id → ◯△× per session
    reservations: list[dict[str, Any]] = field(default_factory=list)
    lotteries: list[dict[str, Any]] = field(default_factory=list)  # open for applications
    applications: list[dict[str, Any]] = field(default_factory=list)  # the caller's, with results
    choices: dict[int, tuple[int, int]] = field(default_factory=dict)  # lottery id → (day, hour) being chosen
    places: dict[int, str] = field(default_factory=dict)  # resource id → "facility · resource"
    resources: dict[int, dict[str, Any]] = field(default_factory=dict)  # resource id → its fees and rules
    confirming: dict[str, Any] | None = None  # the slot in the confirmation sheet
    reduction: str | None = None  # the 減免 category claimed in the sheet
    facilities_known: set[int] = field(default_factory=set)
    waiting: set[tuple[int, str]] = field(default_factory=set)  # (resource id, start) the caller waits for
    error: Failure | None = None

    async def load(self) -> None:
        if not self.municipalities:
            self.municipalities = await self.api.get("/v1/municipalities")
        await self.search()
        # Booked slots stay on screen: that is where a resident joins the waitlist.
        if self.facility_id is not None:
            self.vacancies = await self.api.get(
                "/v1/vacancies", date=str(self.day), facilityId=self.facility_id, limit=200
            )
        self.bookings = await self.api.get("/v1/me/bookings")
        entries = await self.api.get("/v1/me/waitlist", limit=200)
        self.waiting = {(e["resourceId"], e["start"]) for e in entries if e["status"] in ("waiting", "offered")}
        self.children = await self.api.get("/v1/children")
        self.reservations = await self.api.get("/v1/childcare/reservations")
        self.lotteries = await self.api.get("/v1/lotteries", state="open")
        self.applications = await self.api.get("/v1/me/lottery-applications")
        self.childcare = {
            child["id"]: await self.api.get(
                "/v1/childcare/availability",
                date=str(self.childcare_day),
                childId=child["id"],
                municipalityId=self.filters.municipality_id,
            )
            for child in self.children
        }
        self.applications_to = {
            child["id"]: {
                a["nurseryId"]: a["status"]
                for a in await self.api.get(f"/v1/children/{child['id']}/applications", limit=200)
            }
            for child in self.children
        }
        await self._learn_places({item["facilityId"] for item in [*self.vacancies, *self.bookings]})

    # -- search: filters, the week grid, a day's slots ------------------------------------------

    async def start_search(self, remembered: SearchFilters | None) -> None:
        """The first search: what this device remembered, else the resident's own municipality."""
        try:
            residency = await self.api.get("/v1/me/residency")
        except ApiError:
            residency = None  # none declared (404): search the whole prefecture
        if residency and residency.get("status") == "verified":
            self.home_municipality = residency["municipalityId"]
        self.filters = remembered or SearchFilters(municipality_id=self.home_municipality)
        await self.load()

    def opens_later(self, vacancy: dict[str, Any], facility: dict[str, Any]) -> bool:
        """A free unit this person cannot book yet: beyond the horizon for residents, or for
        non-residents when they are not one of the facility's municipality."""
        if vacancy.get("opensForBookingAt"):
            return True
        resident = self.home_municipality == facility["municipalityId"]
        return bool(vacancy.get("opensForNonResidentsAt")) and not resident

    @property
    def week_from(self) -> date:
        return week_start(today(), self.filters.week)

    async def search(self, more: bool = False) -> None:
        """One page of facilities with their week; `more` appends the next page."""
        page, self.next_cursor = await self.api.get_page(
            "/v1/facilities/availability",
            **{"from": str(self.week_from)},
            days=7,
            municipalityId=None if self.near is not None else self.filters.municipality_id,
            kind=self.filters.kind,
            near=f"{self.near[0]:.6f},{self.near[1]:.6f}" if self.near is not None else None,
            cursor=self.next_cursor if more else None,
            limit=SEARCH_PAGE,
        )
        self.week = [*self.week, *page] if more else page
        self.more_facilities = self.next_cursor is not None

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
            self.vacancies = await self.api.get("/v1/vacancies", date=str(day), facilityId=facility_id, limit=200)
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
        return await self._do("POST", f"/v1/children/{child_id}/applications", {"nurseryId": nursery_id})

    async def _learn_places(self, facility_ids: set[int]) -> None:
        """Names for the facilities on screen, each facility fetched once."""
        for facility_id in sorted(facility_ids - self.facilities_known):
            facility = await self.api.get(f"/v1/facilities/{facility_id}")
            for resource in facility["resources"]:
                self.places[resource["id"]] = f"{facility['name']} · {resource['name']}"
                self.resources[resource["id"]] = resource
            self.facilities_known.add(facility_id)

    def place(self, resource_id: int) -> str:
        return self.places.get(resource_id, f"#{resource_id}")

    @property
    def mine(self) -> set[tuple[int, str]]:
        """The slots the caller holds a live booking for: no waitlist button on one's own booking."""
        live = ("provisional", "confirmed", "held")
        return {(b["resourceId"], b["start"]) for b in self.bookings if b["status"] in live}

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

    async def ask_to_book(self, vacancy: dict[str, Any]) -> None:
        """Open the confirmation sheet: nothing is booked before the resident has seen the fee and rules."""
        self.confirming, self.reduction = vacancy, None

    async def close_sheet(self) -> None:
        self.confirming, self.reduction = None, None

    def quote(self, vacancy: dict[str, Any]) -> dict[str, Any]:
        """What the sheet shows, by the same rule as the server (units × rate, less the reduction,
        rounded down). Which rate applies the server decides from the registered address, so both
        are shown when they differ."""
        resource = self.resources.get(vacancy["resourceId"], {})
        start, end = datetime.fromisoformat(vacancy["start"]), datetime.fromisoformat(vacancy["end"])
        units = (end - start) // timedelta(minutes=resource.get("unitMinutes", 60))
        percent = resource.get("reductions", {}).get(self.reduction, 0) if self.reduction else 0

        def fee(rate: int | None) -> int | None:
            return None if rate is None else int(units * rate * (100 - percent) // 100)

        now = datetime.now(TOKYO)
        return {
            "resident": fee(resource.get("feePerUnit", 0)),
            "nonResident": fee(resource.get("nonResidentFeePerUnit")),
            "reductions": sorted(resource.get("reductions", {})),
            "cancelBy": start - timedelta(hours=resource.get("cancelDeadlineHours", 0)),
            "payBy": min(now + timedelta(hours=resource.get("paymentDeadlineHours", 72)), start),
        }

    async def confirm(self) -> bool:
        vacancy = self.confirming
        if vacancy is None:
            return False
        body: dict[str, Any] = {"resourceId": vacancy["resourceId"], "start": vacancy["start"], "end": vacancy["end"]}
        if self.reduction:
            body["reduction"] = self.reduction
        booked = await self._do("POST", "/v1/bookings", body)
        if booked:
            await self.close_sheet()
        return booked

    async def book(self, vacancy: dict[str, Any]) -> bool:
        await self.ask_to_book(vacancy)
        return await self.confirm()

    async def join_waitlist(self, vacancy: dict[str, Any]) -> bool:
        body = {"resourceId": vacancy["resourceId"], "start": vacancy["start"], "end": vacancy["end"]}
        return await self._do("POST", "/v1/waitlist", body)

    async def take_hold(self, held: dict[str, Any]) -> bool:
        """A waitlist offer: the held slot becomes the caller's booking in one tap."""
        slot = {"resourceId": held["resourceId"], "start": held["start"], "end": held["end"]}
        return await self._do("POST", "/v1/bookings", slot)

    async def apply(self, lottery: dict[str, Any], choices: list[tuple[int, int, int]]) -> bool:
        """Apply with ranked (resource id, day of the lottery's month, hour JST) choices, one hour each."""
        year, month = (int(part) for part in lottery["month"][:7].split("-"))
        preferences = []
        for resource_id, day, hour in choices[:3]:
            start = datetime(year, month, day, hour, tzinfo=TOKYO)
            preferences.append({"resourceId": resource_id, "start": start.isoformat(),
                                "end": (start + timedelta(hours=1)).isoformat()})  # fmt: skip
        return await self._do("POST", f"/v1/lotteries/{lottery['id']}/applications", {"preferences": preferences})

    def choice(self, lottery_id: int) -> tuple[int, int]:
        return self.choices.get(lottery_id, (10, 10))

    async def nudge(self, lottery_id: int, which: str, delta: int) -> None:
        day, hour = self.choice(lottery_id)
        if which == "day":
            day = max(1, min(28, day + delta))
        else:
            hour = max(6, min(21, hour + delta))
        self.choices[lottery_id] = (day, hour)

    async def apply_choice(self, lottery: dict[str, Any]) -> bool:
        day, hour = self.choice(lottery["id"])
        return await self.apply(lottery, [(lottery["resourceIds"][0], day, hour)])

    async def cancel_reservation(self, reservation_id: int) -> bool:
        return await self._do("POST", f"/v1/childcare/reservations/{reservation_id}/cancel")

    async def cancel(self, booking_id: int) -> bool:
        return await self._do("POST", f"/v1/bookings/{booking_id}/cancel")

    async def reserve(self, child_id: int, session_id: int) -> bool:
        return await self._do("POST", "/v1/childcare/reservations", {"sessionId": session_id, "childId": child_id})

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
            ):
                await self.resync()

    async def resync(self) -> None:
        try:
            await self.load()
        except ApiError as error:
            self.error = error
