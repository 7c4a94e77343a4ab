"""The simpler homes: residents (vacancies, bookings), parents (children), caseworkers and shelters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from mobile.api import ApiError, MusubiApi


@dataclass
class ResidentModel:
    api: MusubiApi
    day: date = field(default_factory=lambda: date.today() + timedelta(days=1))
    vacancies: list[dict[str, Any]] = field(default_factory=list)
    bookings: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    async def load(self) -> None:
        self.vacancies = [
            v for v in await self.api.get("/v1/vacancies", date=str(self.day), limit=20) if v["state"] == "free"
        ]
        self.bookings = await self.api.get("/v1/me/bookings")
        self.children = await self.api.get("/v1/children")

    async def book(self, vacancy: dict[str, Any]) -> bool:
        try:
            await self.api.post(
                "/v1/bookings", {"resourceId": vacancy["resourceId"], "start": vacancy["start"], "end": vacancy["end"]}
            )
        except ApiError as error:
            self.error = str(error)
            return False
        await self.load()
        return True


@dataclass
class IntakeModel:
    """Caseworkers and shelter staff: the vacancy board and the requests they may see."""

    api: MusubiApi
    vacancies: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def load(self) -> None:
        self.vacancies = await self.api.get("/v1/shelters/vacancies")
        self.requests = await self.api.get("/v1/intake-requests")

    async def on_event(self, event: dict[str, Any]) -> None:
        if event["type"].startswith(("intake.", "shelter.")):
            await self.load()
