"""The resident's and parent's home: facility vacancies, bookings, lotteries, childcare."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mobile.api import ApiError, Failure, MusubiApi
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


@dataclass
class ResidentModel:
    """Facility vacancies and bookings; for parents, children and childcare availability."""

    api: MusubiApi
    day: date = field(default_factory=lambda: date.today() + timedelta(days=1))
    vacancies: list[dict[str, Any]] = field(default_factory=list)
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
        # Booked slots stay on screen: that is where a resident joins the waitlist.
        self.vacancies = await self.api.get("/v1/vacancies", date=str(self.day), limit=200)
        self.bookings = await self.api.get("/v1/me/bookings")
        entries = await self.api.get("/v1/me/waitlist", limit=200)
        self.waiting = {(e["resourceId"], e["start"]) for e in entries if e["status"] in ("waiting", "offered")}
        self.children = await self.api.get("/v1/children")
        self.reservations = await self.api.get("/v1/childcare/reservations")
        self.lotteries = await self.api.get("/v1/lotteries", state="open")
        self.applications = await self.api.get("/v1/me/lottery-applications")
        self.childcare = {
            child["id"]: await self.api.get("/v1/childcare/availability", date=str(self.day), childId=child["id"])
            for child in self.children
        }
        await self._learn_places({item["facilityId"] for item in [*self.vacancies, *self.bookings]})

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
