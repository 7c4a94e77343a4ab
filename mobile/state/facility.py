"""The facility staff's home: their facilities and resources, the day's schedule (予約台帳) with who
booked and the payment state, and the counter's actions on a booking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mobile.api import ApiError, Failure, MusubiApi
from schema.events import BookingCancelled, BookingCreated, BookingNoShow, Event, VacancyChanged
from schema.time import TOKYO

# A booking made or cancelled elsewhere changes the schedule on screen.
SCHEDULE_EVENTS = (BookingCreated, BookingCancelled, BookingNoShow, VacancyChanged)
LIVE = ("held", "provisional", "confirmed")


def today() -> date:
    return datetime.now(TOKYO).date()


@dataclass
class FacilityModel:
    api: MusubiApi
    organization_id: int
    day: date = field(default_factory=today)
    facilities: list[dict[str, Any]] = field(default_factory=list)  # each with its resources
    facility_id: int | None = None  # the one whose schedule is shown
    schedule: list[dict[str, Any]] = field(default_factory=list)  # the day's bookings by start time
    error: Failure | None = None

    async def load(self) -> None:
        self.facilities = await self.api.get(f"/v1/organizations/{self.organization_id}/facilities")
        known = {f["id"] for f in self.facilities}
        if self.facility_id not in known:
            self.facility_id = self.facilities[0]["id"] if self.facilities else None
        if self.facility_id is None:
            self.schedule = []
            return
        self.schedule = await self.api.get(
            f"/v1/facilities/{self.facility_id}/bookings", **{"from": str(self.day), "to": str(self.day)}
        )

    @property
    def facility(self) -> dict[str, Any] | None:
        return next((f for f in self.facilities if f["id"] == self.facility_id), None)

    async def _do(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run one action, then refetch: the schedule shows what the server now holds."""
        self.error = None
        try:
            await work()
        except ApiError as error:
            self.error = error
            return False
        finally:
            try:
                await self.load()
            except ApiError as error:
                self.error = self.error or error
        return True

    async def resync(self) -> None:
        await self._do(_nothing)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, SCHEDULE_EVENTS):
            await self.resync()

    async def choose(self, facility_id: int) -> None:
        self.facility_id = facility_id
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


async def _nothing() -> None:
    return None
