"""The nursery staff's home: sessions by week, the day's roster, attendance and parents' applications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.childcare import PendingApplication, Roster, RosterSession, Session
from schema.events import (
    ChildcareCancelled,
    ChildcareOffered,
    ChildcareReserved,
    Event,
    NurseryAvailabilityChanged,
)
from schema.time import TOKYO

BANDS = ("0", "1-2", "3-5")
BLOCKS = ("morning", "afternoon", "full_day")
# Changes a parent makes (a reservation, a cancellation) show on the roster without a reload.
NURSERY_EVENTS = (ChildcareReserved, ChildcareCancelled, ChildcareOffered, NurseryAvailabilityChanged)


def today() -> date:
    return datetime.now(TOKYO).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class NurseryModel:
    api: MusubiApi
    nursery_id: int
    day: date = field(default_factory=today)  # the roster's day, and the day a new session is opened on
    week: date = field(default_factory=lambda: monday_of(today()))
    sessions: list[Session] = field(default_factory=list)  # the week's, with places taken
    roster: list[RosterSession] = field(default_factory=list)  # the day's sessions with their children
    applications: list[PendingApplication] = field(default_factory=list)  # pending, oldest first
    # The new-session form: a block and places per band.
    block: str = "morning"
    capacity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BANDS, 3))
    error: Failure | None = None

    async def load(self) -> None:
        week = {"from": str(self.week), "to": str(self.week + timedelta(6))}
        sessions = msgspec.convert(
            await self.api.get(f"/v1/nurseries/{self.nursery_id}/sessions", **week), list[Session]
        )
        roster = msgspec.convert(
            await self.api.get(f"/v1/nurseries/{self.nursery_id}/roster", date=str(self.day)), Roster
        )
        self.applications = msgspec.convert(
            await self.api.get(f"/v1/nurseries/{self.nursery_id}/applications"), list[PendingApplication]
        )
        self.sessions, self.roster = sessions, roster.sessions

    async def _do(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run one action, then refetch: the screen shows what the server now holds, not a guess."""
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
        if isinstance(event, NURSERY_EVENTS):
            await self.resync()

    # -- moving through time -------------------------------------------------------------------

    async def shift_week(self, weeks: int) -> None:
        self.week += timedelta(weeks=weeks)
        await self.resync()

    async def shift_day(self, days: int) -> None:
        self.day += timedelta(days=days)
        self.week = monday_of(self.day)
        await self.resync()

    async def show_day(self, day: date) -> None:
        self.day = day
        await self.resync()

    # -- sessions ------------------------------------------------------------------------------

    def set_places(self, band: str, places: int) -> None:
        self.capacity[band] = max(0, min(200, places))

    async def create_session(self) -> bool:
        body = {"date": str(self.day), "block": self.block, "capacity": dict(self.capacity)}
        return await self._do(lambda: self.api.post(f"/v1/nurseries/{self.nursery_id}/sessions", body))

    async def change_capacity(self, session_id: int, band: str, capacity: int) -> bool:
        if capacity < 0:
            self.error = "places_not_negative"
            return False
        path = f"/v1/nurseries/{self.nursery_id}/sessions/{session_id}"
        return await self._do(lambda: self.api.request("PATCH", path, {"capacity": {band: capacity}}))

    async def cancel_session(self, session_id: int, reason: str) -> bool:
        if not reason.strip():
            self.error = "reason_needed"
            return False
        path = f"/v1/nurseries/{self.nursery_id}/sessions/{session_id}/cancel"
        return await self._do(lambda: self.api.post(path, {"reason": reason.strip()}))

    # -- the day ---------------------------------------------------------------------------------

    async def attend(self, reservation_id: int, state: str) -> bool:
        path = f"/v1/childcare/reservations/{reservation_id}/attendance"
        return await self._do(lambda: self.api.post(path, {"state": state}))

    # -- parents' applications -------------------------------------------------------------------

    async def approve(self, child_id: int) -> bool:
        body = {"nurseryId": self.nursery_id}
        return await self._do(lambda: self.api.post(f"/v1/children/{child_id}/approvals", body))

    async def decline(self, child_id: int, application_id: int, reason: str) -> bool:
        if not reason.strip():
            self.error = "reason_needed"
            return False
        path = f"/v1/children/{child_id}/applications/{application_id}/decline"
        return await self._do(lambda: self.api.post(path, {"reason": reason.strip()}))


async def _nothing() -> None:
    return None
