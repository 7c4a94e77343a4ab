"""Resident search at prefecture scale: the filters a device remembers and the week grid's marks.

The grid shows, per facility and day, what the server counted (GET /v1/facilities/availability);
this module only decides how a count reads: ◯ plenty, △ few left, × nothing, or 受付開始 when the
day is beyond the person's booking horizon. Pure functions of their inputs, so they test alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from schema.facilities import DayAvailability
from schema.time import TOKYO

KINDS = ("gym", "court", "hall", "meeting_room", "pool", "field", "studio", "other")
# This week and the next twelve: far enough to meet a one-month booking horizon (受付開始).
WEEKS_AHEAD = 12
# △ once at most a fifth of the day's open units is left (at least one free); a lone court with
# 12 hours a day is △ from two hours left.
FEW_LEFT_SHARE = 5
# What a parent sees of a childcare block: its hours (the server's BLOCKS), Japan time.
BLOCK_HOURS = {"morning": "8:30–12:30", "afternoon": "13:00–17:00", "full_day": "8:30–16:30"}

CellState = Literal["free", "few", "full", "opens", "past"]
MARKS: dict[CellState, str] = {"free": "◯", "few": "△", "full": "×", "opens": "", "past": "−"}


@dataclass
class SearchFilters:
    """What a resident searched for last, remembered per device: municipality (None: all of the
    prefecture), kind (None: every kind) and which week (0 this week, 1 next, …)."""

    municipality_id: int | None = None
    kind: str | None = None
    week: int = 0

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, text: Any) -> SearchFilters | None:
        """What the device stored, or None when it holds nothing usable (another version, edits by hand)."""
        if not isinstance(text, str):
            return None
        try:
            stored = json.loads(text)
            municipality, kind, week = stored["municipality_id"], stored["kind"], stored["week"]
        except (ValueError, KeyError, TypeError):
            return None
        if municipality is not None and not (isinstance(municipality, int) and 1 <= municipality <= 2**31 - 1):
            return None
        if kind is not None and kind not in KINDS:
            return None
        if week not in range(WEEKS_AHEAD + 1):
            return None
        return cls(municipality, kind, week)


def today() -> date:
    return datetime.now(TOKYO).date()


def week_start(on: date, week: int) -> date:
    """The Monday of `on`'s week, `week` weeks on."""
    return on - timedelta(days=on.weekday()) + timedelta(weeks=week)


def cell_state(cell: DayAvailability, on: date) -> CellState:
    """How one day of a facility reads in the grid."""
    if cell.date < on:
        return "past"
    if cell.free > 0:
        return "few" if cell.free * FEW_LEFT_SHARE <= cell.total else "free"
    if cell.opens_at is not None:
        return "opens"
    return "full"


def opens_on(cell: DayAvailability) -> str:
    """M/D (Japan) the day opens for booking ("" when it is open already)."""
    if cell.opens_at is None:
        return ""
    opens = cell.opens_at.astimezone(TOKYO)
    return f"{opens.month}/{opens.day}"
