"""The ER desk: a live inbox with an alert, accept or decline with a reason, the patients on the
way (ETA, vitals over time, photos) and the department's acceptance board."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.ems import BoardEntry, Case, HospitalBoard, HospitalDepartment, InboxItem, IncomingCase
from schema.events import (
    EmsCaseClosed,
    EmsCaseUpdated,
    EmsDestinationSet,
    EmsRequestCreated,
    EmsRequestRealerted,
    EmsRequestReleased,
    EmsRequestResponded,
    Event,
    HospitalBoardChanged,
)

DECLINE_REASONS = ("no_beds", "no_specialist", "treating_another_patient", "equipment_down", "other")


@dataclass
class ErModel:
    api: MusubiApi
    hospital_id: int | None = None  # the desk's hospital: its board and departments
    department: str = "emergency"  # the department that answers and whose board is set
    inbox: list[InboxItem] = field(default_factory=list)
    incoming: list[IncomingCase] = field(default_factory=list)  # patients whose destination is here
    photos: dict[int, bytes] = field(default_factory=dict)  # attachment id → the photo, fetched once
    board: list[BoardEntry] = field(default_factory=list)  # this hospital's departments on the board
    departments: list[HospitalDepartment] = field(default_factory=list)
    alert: bool = False  # a new request arrived and nobody has looked yet
    chimes: int = 0  # how many times the desk should have sounded; the view plays what it has not yet
    error: Failure | None = None
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
        self.incoming = msgspec.convert(await self.api.get("/v1/ems/incoming"), list[IncomingCase])
        for patient in self.incoming:
            for photo in patient.attachments:
                if photo.id not in self.photos:  # each fetch is a read of the case, audited
                    self.photos[photo.id] = await self.api.download(
                        f"/v1/ems/cases/{patient.case_id}/attachments/{photo.id}"
                    )
        await self.load_board()

    async def load_board(self) -> None:
        """The current status of each of this hospital's departments, as the crews see it."""
        if self.hospital_id is None:
            return
        if not self.departments:
            self.departments = msgspec.convert(
                await self.api.get(f"/v1/hospitals/{self.hospital_id}/departments"), list[HospitalDepartment]
            )
        boards = msgspec.convert(await self.api.get("/v1/hospitals/board"), list[HospitalBoard])
        mine = next((b for b in boards if b.hospital_id == self.hospital_id), None)
        self.board = mine.departments if mine is not None else []

    def board_status(self, department: str) -> str | None:
        """accepting / limited / not_accepting / unknown (expired), or None if never set."""
        return next((entry.status for entry in self.board if entry.department == department), None)

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
            case (
                EmsRequestCreated()
                | EmsRequestResponded()
                | EmsDestinationSet()
                | EmsRequestReleased()
                | EmsCaseUpdated()
                | EmsCaseClosed()
            ):
                await self.resync()  # a new request is found new by the refetch, which alerts
            case HospitalBoardChanged(hospital_id=hospital_id) if hospital_id == self.hospital_id:
                try:
                    await self.load_board()
                except ApiError as error:
                    self.error = error

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
        await self.load_board()
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
