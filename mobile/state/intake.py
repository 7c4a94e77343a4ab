"""The caseworker's and the shelter's home (一時保護): the bed board, nameless requests and their
answers, placement, the children in care now and their discharge, a shelter's own beds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.events import (
    Event,
    IntakeCancelled,
    IntakeClosed,
    IntakePlaced,
    IntakeRequested,
    IntakeResponded,
    ShelterVacancyChanged,
)
from schema.shelters import ChildIdentityView, CurrentPlacement, IntakeRequest, ShelterCategory, Vacancy

AGE_BANDS = ((0, 5), (6, 12), (13, 17))
INTAKE_SEXES = ("female", "male", "other")
URGENCIES = ("emergency", "urgent", "planned")
# What a caseworker most often has to tell a shelter before it can say yes; codes on the wire
# (the server takes [a-z_] words), words on screen through the translator.
NEEDS = ("medical_care", "disability_support", "sibling_group", "language_support", "allergy_care")
# Why a shelter says no. The code travels as the reason, so the caseworker reads it in their own
# language; anything else a server holds is shown as written.
DECLINE_REASONS = ("no_beds", "outside_category", "cannot_meet_needs", "staffing", "other")
# The states a request is filtered by. Always offered: where a request stands in its answers;
# the ends that only some requests reach (closed for a shelter, cancelled) appear when one has.
STATES = ("pending", "accepted", "declined", "placed")
ENDS = ("closed", "cancelled")

Role = Literal["caseworker", "shelter"]


def age_band(age: int) -> str:
    return next(f"{low}-{high}" for low, high in AGE_BANDS if low <= age <= high)


def minutes_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


@dataclass(frozen=True)
class InCare:
    """A child placed and not yet discharged, as either side lists it."""

    placement_id: int
    request_id: int
    age_years: int
    sex: str
    category: str
    placed_at: datetime
    shelter_id: int | None  # the caseworker's list says where; the shelter knows
    child: ChildIdentityView | None
    minutes_to_placement: float | None


@dataclass
class IntakeModel:
    """Caseworkers (send requests, see answers live, place, discharge) and shelter staff (answer,
    their beds per category, the children in their care, discharge)."""

    api: MusubiApi
    role: Role = "caseworker"
    shelter_id: int | None = None  # shelter staff: their own shelter
    vacancies: list[Vacancy] = field(default_factory=list)
    requests: list[IntakeRequest] = field(default_factory=list)
    categories: list[ShelterCategory] = field(default_factory=list)  # the own shelter's, with their names
    placements: list[CurrentPlacement] = field(default_factory=list)  # the own shelter's children in care
    # The caseworker's draft: no name, ever, until placement.
    age: int = 8
    sex: str = "female"
    urgency: str = "urgent"
    needs: set[str] = field(default_factory=set)
    chosen: set[int] = field(default_factory=set)  # the shelters to ask
    # Placement form per (request, shelter), kept here so a live re-render never wipes typing.
    names: dict[tuple[int, int], str] = field(default_factory=dict)
    births: dict[tuple[int, int], str] = field(default_factory=dict)
    declining: int | None = None  # the request whose decline reasons are open
    discharging: int | None = None  # the placement whose discharge waits for "yes"
    state: str | None = None  # the requests shown: one state, or all
    error: Failure | None = None

    async def load(self) -> None:
        self.vacancies = msgspec.convert(await self.api.get("/v1/shelters/vacancies"), list[Vacancy])
        self.requests = msgspec.convert(await self.api.get("/v1/intake-requests"), list[IntakeRequest])
        if self.role == "shelter" and self.shelter_id is not None:
            base = f"/v1/shelters/{self.shelter_id}"
            self.categories = msgspec.convert(await self.api.get(f"{base}/categories"), list[ShelterCategory])
            self.placements = msgspec.convert(await self.api.get(f"{base}/placements"), list[CurrentPlacement])

    # -- names ---------------------------------------------------------------------

    @property
    def shelters(self) -> list[int]:
        return sorted({v.shelter_id for v in self.vacancies})

    def shelter_name(self, shelter_id: int) -> str | None:
        """The shelter's name as the server gave it (board or answers); None if not known here."""
        known = [(v.shelter_id, v.shelter_name) for v in self.vacancies]
        known += [(t.shelter_id, t.shelter_name) for r in self.requests for t in r.targets or []]
        return next((name for shelter, name in known if shelter == shelter_id and name), None)

    # -- the draft -------------------------------------------------------------------

    @property
    def category(self) -> str:
        """The bed category the child needs: the age band, split by sex where the shelters split it.
        A sex-specific unit is preferred; where no shelter has one for this band (small children
        usually share), the band's shared unit; "other" always goes to the shared unit."""
        band = age_band(self.age)
        specific = f"{band}:{self.sex}"
        known = {v.category for v in self.vacancies}
        if self.sex in ("female", "male") and (specific in known or f"{band}:any" not in known):
            return specific
        return f"{band}:any"

    def free_beds(self, shelter_id: int, category: str | None = None) -> int | None:
        """Free beds of that shelter in the category (the draft's by default); None if it has no such unit."""
        wanted = category or self.category
        for vacancy in self.vacancies:
            if vacancy.shelter_id == shelter_id and vacancy.category == wanted:
                return vacancy.capacity - vacancy.occupied - vacancy.held
        return None

    async def set_age(self, age: int) -> None:
        self.age = max(0, min(17, age))

    async def nudge_age(self, delta: int) -> None:
        # Relative, not "set to what the screen showed": two taps before a redraw are two years.
        await self.set_age(self.age + delta)

    def choose(self, shelter_id: int, chosen: bool) -> None:
        if chosen:
            self.chosen.add(shelter_id)
        else:
            self.chosen.discard(shelter_id)

    # -- requests by state -----------------------------------------------------------

    def state_of(self, request: IntakeRequest) -> str:
        """Where a request stands for this reader. A shelter: its own answer. A caseworker: placed or
        cancelled once it is; before, accepted as soon as one shelter can take the child, declined
        when every shelter asked said no, pending otherwise."""
        targets = request.targets or []
        if self.role == "shelter":
            return targets[0].status if targets else "pending"
        if request.status != "open":
            return request.status
        answers = {t.status for t in targets}
        if "accepted" in answers:
            return "accepted"
        if answers == {"declined"}:
            return "declined"
        return "pending"

    def counts(self) -> dict[str, int]:
        """How many requests are in each state: the always-offered ones, and the ends some reached."""
        found = [self.state_of(r) for r in self.requests]
        shown = [*STATES, *(end for end in ENDS if end in found)]
        return {state: found.count(state) for state in shown}

    @property
    def shown(self) -> list[IntakeRequest]:
        if self.state is None:
            return self.requests
        return [r for r in self.requests if self.state_of(r) == self.state]

    async def show_state(self, state: str | None) -> None:
        self.state = state

    def minutes_to_placement(self, request: IntakeRequest) -> float | None:
        placement = request.placement
        return minutes_between(request.created_at, placement.placed_at) if placement else None

    # -- the children in care --------------------------------------------------------

    @property
    def in_care(self) -> list[InCare]:
        """The shelter's list comes from the shelter's own endpoint (with who the child is); the
        caseworker's from the centre's placed requests."""
        if self.role == "shelter":
            created = {r.id: r.created_at for r in self.requests}
            return [
                InCare(
                    placement_id=p.id,
                    request_id=p.request_id,
                    age_years=p.age_years,
                    sex=p.sex,
                    category=p.category,
                    placed_at=p.placed_at,
                    shelter_id=None,
                    child=p.child,
                    minutes_to_placement=(
                        minutes_between(created[p.request_id], p.placed_at) if p.request_id in created else None
                    ),
                )
                for p in self.placements
            ]
        found = []
        for request in self.requests:
            placement = request.placement
            if placement is None or placement.discharged_at is not None:
                continue
            found.append(
                InCare(
                    placement_id=placement.id,
                    request_id=request.id,
                    age_years=request.age_years,
                    sex=request.sex,
                    category=placement.category,
                    placed_at=placement.placed_at,
                    shelter_id=placement.shelter_id,
                    child=request.child,
                    minutes_to_placement=self.minutes_to_placement(request),
                )
            )
        return found

    async def ask_discharge(self, placement_id: int) -> None:
        self.discharging = placement_id

    async def keep_in_care(self) -> None:
        self.discharging = None

    async def confirm_discharge(self) -> bool:
        if self.discharging is None:
            return False
        placement_id, self.discharging = self.discharging, None
        return await self.discharge(placement_id)

    # -- actions -------------------------------------------------------------------

    async def _do(self, method: str, path: str, body: Any) -> bool:
        self.error = None
        try:
            await self.api.request(method, path, body)
        except ApiError as error:
            self.error = error
            return False
        await self.load()
        return True

    async def send_request(self) -> bool:
        if not self.chosen:
            self.error = "choose_shelters"
            return False
        body = {"ageYears": self.age, "sex": self.sex, "category": self.category, "urgency": self.urgency,
                "needs": sorted(self.needs), "shelterIds": sorted(self.chosen)}  # fmt: skip
        if sent := await self._do("POST", "/v1/intake-requests", body):
            self.chosen, self.needs = set(), set()
        return sent

    async def answer(self, request_id: int, accept: bool, reason: str | None = None) -> bool:
        if not accept and reason is None:
            self.declining = request_id  # ask why first
            return False
        self.declining = None
        body = {"decision": "accept"} if accept else {"decision": "decline", "reason": reason}
        return await self._do("POST", f"/v1/intake-requests/{request_id}/responses", body)

    async def place(self, request_id: int, shelter_id: int) -> bool:
        key = (request_id, shelter_id)
        name, birth = self.names.get(key, "").strip(), self.births.get(key, "").strip()
        if not name or not birth:
            self.error = "name_and_birth_needed"
            return False
        body = {"shelterId": shelter_id, "child": {"name": name, "birthDate": birth}}
        if placed := await self._do("POST", f"/v1/intake-requests/{request_id}/placement", body):
            self.names.pop(key, None)
            self.births.pop(key, None)
        return placed

    async def discharge(self, placement_id: int) -> bool:
        return await self._do("POST", f"/v1/placements/{placement_id}/discharge", {})

    async def set_beds(self, shelter_id: int, category: str, capacity: int) -> bool:
        return await self._do("PUT", f"/v1/shelters/{shelter_id}/units/{category}", {"capacity": max(0, capacity)})

    async def nudge_beds(self, category: str, delta: int) -> bool:
        """One bed more or fewer in a category of the own shelter; the server refuses fewer than in use."""
        if self.shelter_id is None:
            return False
        path = f"/v1/shelters/{self.shelter_id}/categories/{category}"
        current = next((c.capacity for c in self.categories if c.category == category), 0)
        return await self._do("PATCH", path, {"capacity": max(0, current + delta)})

    async def on_event(self, event: Event) -> None:
        match event:
            case (
                IntakeRequested()
                | IntakeResponded()
                | IntakePlaced()
                | IntakeClosed()
                | IntakeCancelled()
                | ShelterVacancyChanged()
            ):
                await self.resync()

    async def resync(self) -> None:
        try:
            await self.load()
        except ApiError as error:
            self.error = error
