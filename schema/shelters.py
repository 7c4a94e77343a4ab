"""Child-protection shelters: bed units, intake requests, responses, placements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from schema.base import Id, Input, Wire

CATEGORY_PATTERN = r"^((0-5|6-12|13-17):(any|female|male)|special)$"
Category = Annotated[str, msgspec.Meta(pattern=CATEGORY_PATTERN)]
Sex = Literal["female", "male", "other"]
Urgency = Literal["emergency", "urgent", "planned"]
Need = Annotated[str, msgspec.Meta(min_length=2, max_length=40, pattern=r"^[a-z][a-z_]*$")]
TargetStatus = Literal["pending", "accepted", "declined", "placed", "closed"]


class UnitUpdate(Input):
    capacity: Annotated[int, msgspec.Meta(ge=0, le=500)]


class Vacancy(Wire):
    """One bed category of one shelter. The name lets a caseworker tell shelters apart; where the
    shelter is (address, coordinates) is never on this board."""

    shelter_id: int
    shelter_name: str
    category: str
    capacity: int
    occupied: int
    held: int


class IntakeRequestCreate(Input):
    """No name, no birth date: shelters decide on what they need to know, not who the child is."""

    age_years: Annotated[int, msgspec.Meta(ge=0, le=17)]
    sex: Sex
    category: Category
    urgency: Urgency
    shelter_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=30)]
    needs: Annotated[list[Need], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)


class Target(Wire):
    shelter_id: int
    shelter_name: str
    status: TargetStatus
    responded_at: datetime | None
    reason: str | None


class ChildIdentity(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    birth_date: date
    notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ChildIdentityView(Wire):
    name: str
    birth_date: date
    notes: str


class Placement(Wire):
    id: int
    request_id: int
    shelter_id: int
    category: str
    placed_at: datetime
    discharged_at: datetime | None
    # After discharge: when the shelter stops seeing the child's identity (the centre keeps it).
    identity_access_until: datetime | None = None


class IntakeRequest(Wire, omit_defaults=True):
    id: int
    guidance_center_id: int
    created_at: datetime
    age_years: int
    sex: Sex
    category: str
    needs: list[str]
    urgency: Urgency
    status: Literal["open", "placed", "cancelled"]
    targets: list[Target] | None = None  # the centre sees every shelter's answer; a shelter only its own
    placement: Placement | None = None
    child: ChildIdentityView | None = None  # only the centre and the chosen shelter, after placement


class IntakeResponseCreate(Input):
    decision: Literal["accept", "decline"]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None


class PlacementCreate(Input):
    shelter_id: Id
    child: ChildIdentity


class PlacementStats(Wire):
    placements: int
    mean_minutes: float | None
    median_minutes: float | None
    p90_minutes: float | None


# -- back office ---------------------------------------------------------------------

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ShelterCategory(Wire):
    """A bed category (age band × sex, or special) with the shelter's own name for it."""

    category: str
    label: str
    capacity: int
    occupied: int
    retired_at: datetime | None


class ShelterCategoryCreate(Input):
    category: Category
    capacity: Annotated[int, msgspec.Meta(ge=0, le=500)]
    label: Label | None = None


class ShelterCategoryUpdate(Input):
    """Rename, or change the number of beds (never below those in use)."""

    label: Label | msgspec.UnsetType = msgspec.UNSET
    capacity: Annotated[int, msgspec.Meta(ge=0, le=500)] | msgspec.UnsetType = msgspec.UNSET


class CurrentPlacement(Wire, omit_defaults=True):
    id: int
    request_id: int
    category: str
    placed_at: datetime
    age_years: int
    sex: Sex
    needs: list[str]
    urgency: Urgency
    child: ChildIdentityView | None = None


class IntakeSummary(Wire):
    """A guidance centre's request in its back-office list: no identity, times only."""

    id: int
    created_at: datetime
    age_years: int
    sex: Sex
    category: str
    urgency: Urgency
    status: Literal["open", "placed", "cancelled"]
    placed_at: datetime | None
    cancelled_at: datetime | None
    minutes_to_placement: float | None
    shelters_asked: int
    shelters_accepting: int


class IntakeCancel(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
