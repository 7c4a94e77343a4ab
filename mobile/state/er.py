"""The ER desk: a live inbox with an alert, accept or decline with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mobile.api import ApiError, MusubiApi

DECLINE_REASONS = ("no_beds", "no_specialist", "treating_another_patient", "equipment_down", "other")


@dataclass
class ErModel:
    api: MusubiApi
    department: str = "emergency"
    inbox: list[dict[str, Any]] = field(default_factory=list)
    alert: bool = False  # a new request arrived and nobody has looked yet
    chimes: int = 0  # how many times the desk should have sounded; the view plays what it has not yet
    error: str | None = None
    board_status: str | None = None
    case: dict[str, Any] | None = None  # the case opened from the inbox (each opening is audited)

    async def load(self) -> None:
        self.inbox = await self.api.get("/v1/ems/inbox")

    async def on_event(self, event: dict[str, Any]) -> None:
        if event["type"] in ("ems.request.created", "ems.request.realerted"):
            self.alert = True
            self.chimes += 1
        if event["type"].startswith("ems."):
            await self.load()

    async def open_case(self, case_id: int) -> None:
        try:
            self.case = await self.api.get(f"/v1/ems/cases/{case_id}")
        except ApiError as error:  # e.g. released: this hospital no longer has access
            self.case, self.error = None, str(error)

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
            self.error = str(error)
            return False
        self.board_status = status
        return True

    async def answer(self, request_id: int, accept: bool, reason: str | None = None) -> bool:
        body: dict[str, Any] = {"decision": "accept", "department": self.department} if accept else {
            "decision": "decline", "reason": reason or "other"}  # fmt: skip
        try:
            await self.api.post(f"/v1/ems/requests/{request_id}/response", body)
        except ApiError as error:
            self.error = str(error)
            return False
        await self.load()
        return True
