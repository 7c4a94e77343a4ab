"""Lotteries (抽選): creation, applications with ranked preferences, the draw and its proof."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

import msgspec

from schema.base import Id, Input, Wire

Instant = Annotated[datetime, msgspec.Meta(tz=True)]
MAX_PREFERENCES = 3  # 第1〜第3希望: the draw walks three ranks (backend/lottery/draw.py)
LotteryState = Literal["scheduled", "open", "closed", "drawn", "cancelled"]


class LotteryCreate(Input):
    resource_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=50)]
    month: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]  # YYYY-MM, Asia/Tokyo
    opens_at: Instant
    closes_at: Instant
    per_user_cap: Annotated[int, msgspec.Meta(ge=1, le=20)]
    # When unallocated slots open for first-come booking; defaults to the moment of closing.
    first_come_at: Instant | None = None
    # Hours a winner has to confirm (pay) before the win is released.
    confirm_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 72
    # Municipalities whose residents are in the priority tier (default: the owner's own).
    resident_municipality_ids: (
        Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]], msgspec.Meta(max_length=50)] | None
    ) = None


class Preference(Input):
    resource_id: Id
    start: Instant
    end: Instant


class ApplicationCreate(Input):
    preferences: Annotated[list[Preference], msgspec.Meta(min_length=1, max_length=MAX_PREFERENCES)]


class PublishedPreference(Wire):
    rank: int
    resource_id: int
    start: datetime
    end: datetime


class PublishedApplication(Wire):
    """An application as the public sees it: a pseudonym instead of the person."""

    application_id: int
    pseudonym: str
    resident: bool
    preferences: list[PublishedPreference]


class TakenSlot(Wire):
    resource_id: int
    start: datetime
    end: datetime


class DrawResult(Wire):
    application_id: int
    won_rank: int | None


class Application(Wire):
    id: int
    lottery_id: int
    pseudonym: str
    resident: bool
    preferences: list[PublishedPreference]


class LotteryResource(Wire):
    """A room or court a lottery allocates, with what an applicant needs to choose a slot: where it
    is, its opening hours (Japan time) and its booking unit."""

    id: int
    name: str
    facility_id: int
    facility_name: str
    opens_at: time
    closes_at: time
    unit_minutes: int


class LotterySummary(Wire):
    id: int
    organization_id: int
    month: date
    resource_ids: list[int]
    opens_at: datetime
    closes_at: datetime
    first_come_at: datetime
    per_user_cap: int
    state: LotteryState
    seed_commitment: str
    resources: list[LotteryResource]  # the resources of `resourceIds`, by id


class MyApplication(Application):
    month: date
    resources: list[LotteryResource]  # the lottery's, to name the preferences' resources
    state: LotteryState
    won_rank: int | None  # after the draw: the preference won, or None
    booking_id: int | None


class Lottery(LotterySummary, omit_defaults=True):
    """The whole record: the summary, the rules, and after the draw everything needed to verify it."""

    resident_municipality_ids: list[int]
    algorithm: str
    applications: list[PublishedApplication] | None = None
    seed: str | None = None  # hex, revealed at the draw
    taken: list[TakenSlot] | None = None
    results: list[DrawResult] | None = None
    result_digest: str | None = None


# -- back office (facility operators) ------------------------------------------------


class LotteryCancel(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class SlotDemand(Wire):
    """How many applications ask for one slot, and how many of them as their first choice (第1希望)."""

    resource_id: int
    start: datetime
    end: datetime
    applications: int
    first_choice: int


class LotteryOverview(LotterySummary):
    """A lottery as its operator sees it: the demand per slot, no applicant named."""

    applications: int
    slots: list[SlotDemand]
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
