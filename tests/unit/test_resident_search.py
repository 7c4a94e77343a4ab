"""How a day of the week grid reads, and what a device may remember of a search."""

from __future__ import annotations

from datetime import date

import msgspec

from mobile.state.resident import SearchFilters, cell_state, opens_on, week_start
from schema.facilities import DayAvailability

TODAY = date(2026, 11, 27)  # a Friday


def cell(day: str, free: int, total: int = 12, opens_at: str | None = None) -> DayAvailability:
    """A day as the server sends it, decoded as the client decodes it."""
    return msgspec.convert({"date": day, "free": free, "total": total, "opensAt": opens_at}, DayAvailability)


def test_a_day_reads_free_few_full_past_or_when_it_opens() -> None:
    assert cell_state(cell("2026-11-28", 12), TODAY) == "free"
    assert cell_state(cell("2026-11-28", 3), TODAY) == "free"
    assert cell_state(cell("2026-11-28", 2), TODAY) == "few"  # at most a fifth left
    assert cell_state(cell("2026-11-28", 0), TODAY) == "full"
    assert cell_state(cell("2026-11-28", 0, total=0), TODAY) == "full"  # closed all day
    assert cell_state(cell("2026-11-26", 12), TODAY) == "past"
    late = cell("2026-12-30", 0, opens_at="2026-11-29T15:00:00Z")
    assert cell_state(late, TODAY) == "opens"
    assert opens_on(late) == "11/30"  # midnight in Japan


def test_weeks_start_on_monday() -> None:
    assert week_start(TODAY, 0) == date(2026, 11, 23)
    assert week_start(TODAY, 1) == date(2026, 11, 30)
    assert week_start(date(2026, 11, 29), 0) == date(2026, 11, 23)  # a Sunday ends its week


def test_remembered_filters_round_trip_and_anything_else_is_ignored() -> None:
    filters = SearchFilters(municipality_id=24, kind="court", week=1)
    assert SearchFilters.decode(filters.encode()) == filters
    assert SearchFilters.decode(SearchFilters().encode()) == SearchFilters()
    for stored in (None, 3, "", "not json", "[]", '{"municipality_id": "1", "kind": null, "week": 0}',
                   '{"municipality_id": 1, "kind": "casino", "week": 0}',
                   '{"municipality_id": 1, "kind": null, "week": 13}'):  # fmt: skip
        assert SearchFilters.decode(stored) is None
