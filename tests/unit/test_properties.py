"""Domain rules that must hold for every input, checked with hypothesis."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.childcare.service import band_on
from backend.facilities.slots import TOKYO, slot_problems, units_of_day
from backend.lottery.draw import Entry, Slot, draw

T0 = datetime(2027, 5, 1, 0, 0, tzinfo=UTC)

slots = st.builds(
    lambda resource, hour, length: Slot(resource, T0 + timedelta(hours=hour), T0 + timedelta(hours=hour + length)),
    st.integers(1, 3),
    st.integers(0, 12),
    st.integers(1, 3),
)
entries = st.lists(
    st.tuples(st.text("abcd", min_size=1, max_size=2), st.booleans(), st.lists(slots, min_size=1, max_size=3)),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(entries, st.lists(slots, max_size=4), st.integers(1, 3), st.binary(min_size=32, max_size=32))
def test_a_draw_never_gives_a_slot_twice_nor_a_taken_one_nor_past_the_cap(
    raw: list[tuple[str, bool, list[Slot]]], taken: list[Slot], cap: int, seed: bytes
) -> None:
    people = [Entry(n, person, resident, tuple(prefs)) for n, (person, resident, prefs) in enumerate(raw, 1)]
    wins = draw(seed, people, taken, cap)
    won = [(entry, entry.preferences[wins[entry.application_id] - 1]) for entry in people if wins[entry.application_id]]
    for i, (_, one) in enumerate(won):
        assert not any(one.overlaps(t) for t in taken)
        assert not any(one.overlaps(other) for _, other in won[i + 1 :])
    per_person: dict[str, int] = {}
    for entry, _ in won:
        per_person[entry.pseudonym] = per_person.get(entry.pseudonym, 0) + 1
    assert all(count <= cap for count in per_person.values())


@given(st.dates(date(2015, 1, 1), date(2030, 12, 31)), st.integers(0, 7 * 366))
def test_age_band_only_ever_moves_up(birth: date, days: int) -> None:
    order = {"0": 0, "1-2": 1, "3-5": 2, None: 3}
    day = birth + timedelta(days=days)
    assert order[band_on(birth, day)] <= order[band_on(birth, day + timedelta(days=1))]


@given(st.integers(0, 22), st.integers(1, 23), st.sampled_from([15, 30, 60, 90, 120]))
def test_every_unit_of_a_day_is_a_bookable_slot(opens: int, hours: int, unit: int) -> None:
    closes = min(opens + hours, 23)
    if closes <= opens:
        return
    day = date(2030, 6, 3)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for start, end in units_of_day(day, time(opens), time(closes), unit):
        assert start.tzinfo is UTC  # instants as on the wire, on the day in Tokyo
        assert start.astimezone(TOKYO).date() == day
        assert slot_problems(start, end, time(opens), time(closes), unit, now) == []
