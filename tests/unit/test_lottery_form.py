"""The resident's lottery form offers what the server accepts and refuses the same slot twice."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from mobile.api import ApiError
from mobile.state.i18n import LABELS
from mobile.state.lottery import (
    PREFERENCE_PROBLEMS,
    add_preference,
    choose_resource,
    month_days,
    new_form,
    preference_problems,
    remove_preference,
    unit_starts,
)
from schema.base import FieldError
from schema.lottery import MAX_PREFERENCES, LotteryResource, LotterySummary
from schema.time import TOKYO

HALL = LotteryResource(id=1, name="メインアリーナ", facility_id=9, facility_name="水戸市総合体育館",
                       opens_at=time(9), closes_at=time(21), unit_minutes=60)  # fmt: skip
COURT = LotteryResource(id=2, name="第1コート", facility_id=9, facility_name="水戸市総合体育館",
                        opens_at=time(8, 30), closes_at=time(20, 0), unit_minutes=90)  # fmt: skip
NOW = datetime(2027, 1, 20, 12, tzinfo=TOKYO)


def lottery(month: date = date(2027, 2, 1)) -> LotterySummary:
    return LotterySummary(
        id=7, organization_id=3, month=month, resource_ids=[1, 2], opens_at=NOW, closes_at=NOW, first_come_at=NOW,
        per_user_cap=2, state="open", seed_commitment="0" * 64, resources=[HALL, COURT],
    )  # fmt: skip


def test_every_day_of_the_month_is_offered_february_has_28_leap_february_29() -> None:
    assert len(month_days(date(2027, 2, 1), NOW)) == 28
    assert len(month_days(date(2028, 2, 1), NOW)) == 29
    assert month_days(date(2027, 3, 1), NOW)[-1] == date(2027, 3, 31)
    # In the lottery's own month, the days already gone are not offered.
    assert month_days(date(2027, 1, 1), NOW)[0] == date(2027, 1, 20)


def test_times_are_whole_units_from_opening_that_end_by_closing() -> None:
    assert unit_starts(HALL)[0] == time(9)
    assert unit_starts(HALL)[-1] == time(20)
    # 8:30 + 90 min units: 8:30, 10:00, … 17:30 (19:00 would end at 20:30, after closing).
    assert unit_starts(COURT) == [time(8, 30), time(10), time(11, 30), time(13), time(14, 30), time(16), time(17, 30)]


def test_the_same_slot_twice_is_refused_with_the_rank_it_repeats() -> None:
    form = new_form(lottery(), NOW)
    assert (form.resource_id, form.day, form.start) == (1, date(2027, 2, 1), time(9))
    assert add_preference(form, lottery())
    form.day = date(2027, 2, 3)
    assert add_preference(form, lottery())
    form.day = date(2027, 2, 1)
    assert not add_preference(form, lottery())
    assert (form.problem, form.clash) == ("same_slot_twice", 1)
    choose_resource(form, lottery(), COURT.id)  # 9:00 is no unit of the court: its first unit instead
    assert form.start == time(8, 30)
    assert add_preference(form, lottery())  # another court at the same day is another slot
    assert form.full
    assert len(form.preferences) == MAX_PREFERENCES
    assert not add_preference(form, lottery())
    assert form.problem == "preferences_full"
    remove_preference(form, 1)
    assert [p.start.day for p in form.preferences] == [3, 1]
    assert form.problem is None
    court = form.preferences[1]
    assert (court.resource_id, court.end - court.start) == (COURT.id, timedelta(minutes=90))


def test_a_refused_preference_is_named_by_its_rank_in_the_persons_language() -> None:
    refused = ApiError(422, "Some preferences cannot be applied for.", "validation",
                       [FieldError(field="$.preferences[1].start", message="Is in the past")])  # fmt: skip
    assert preference_problems(refused) == [(2, "preference_in_past")]
    assert preference_problems("no_connection") == []
    for key in [*PREFERENCE_PROBLEMS.values(), "same_slot_twice", "preferences_full", "add_a_preference"]:
        assert key in LABELS, key
