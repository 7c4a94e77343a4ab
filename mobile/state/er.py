"""The ER desk: a live inbox with an alert, accept or decline with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.ems import Case, InboxItem
from schema.events import (
    EmsDestinationSet,
    EmsRequestCreated,
    EmsRequestRealerted,
    EmsRequestReleased,
    EmsRequestResponded,
    Event,
)

DECLINE_REASONS = ("no_beds", "no_specialist", "treating_another_patient", "equipment_down", "other")


@dataclass
class ErModel:
    api: MusubiApi
    department: str = "emergency"
    inbox: list[InboxItem] = field(default_factory=list)
    alert: bool = False  # a new request arrived and nobody has looked yet
    chimes: int = 0  # how many times the desk should have sounded; the view plays what it has not yet
    error: Failure | None = None
    board_status: str | None = None
    case: Case | None = None  # the case opened from the inbox (each opening is audited)
    # Pending requests already shown: one that appears in a refetch without its event having been
    # seen (a gap in the live stream, a watchdog refetch) still raises the alert, exactly once.
    known_pending: set[int] | None = None

    async def load(self) -> None:
        self.inbox = msgspec.convert(await self.api.get("/v1/ems/inbox"), list[InboxItem])
        pending = {item.request_id for item in self.inbox if item.status == "pending"}
        if self.known_pending is not None and pending - self.known_pending:
            self.alert = True
            self.chimes += 1
        self.known_pending = (self.known_pending or set()) | pending

    async def resync(self) -> None:
        """After a gap (reconnect, watchdog): refetch, alerting on any request that came meanwhile."""
        try:
            await self.load()
        except ApiError as error:
            self.error = error

    async def on_event(self, event: Event) -> None:
        match event:
            case EmsRequestRealerted():
                self.alert = True
                self.chimes += 1
                await self.resync()
            case EmsRequestCreated() | EmsRequestResponded() | EmsDestinationSet() | EmsRequestReleased():
                await self.resync()  # a new request is found new by the refetch, which alerts

    async def open_case(self, case_id: int) -> None:
        try:
            self.case = msgspec.convert(await self.api.get(f"/v1/ems/cases/{case_id}"), Case)
        except ApiError as error:  # e.g. released: this hospital no longer has access
            self.case, self.error = None, error

    def close_case(self) -> None:
        self.case = None

    def acknowledge(self) -> None:
        self.alert = False

    async def set_board(self, hospital_id: int, status: str, hours: int = 4) -> bool:
        """This department's acceptance status on the prefecture board, for the next hours."""
        until = (datetime.now(UTC) + timedelta(hours=hours)).isoformat()
        try:
            await self.api.put(
                f"/v1/hospitals/{hospital_id}/board/{self.department}", {"status": status, "until": until}
            )
        except ApiError as error:
            self.error = error
            return False
        self.board_status = status
        return True

    async def answer(self, request_id: int, accept: bool, reason: str | None = None) -> bool:
        body: dict[str, str] = {"decision": "accept", "department": self.department} if accept else {
            "decision": "decline", "reason": reason or "other"}  # fmt: skip
        try:
            await self.api.post(f"/v1/ems/requests/{request_id}/response", body)
        except ApiError as error:
            self.error = error
            return False
        await self.load()
        return True
