"""A resident's application to a lottery (抽選の申込): which room or court, which day of the lottery's
month and which unit of its opening hours, added as ranked preferences (第1希望, 第2希望…).

The form offers only what the server accepts (backend/lottery/service.py `apply`): a resource of the
lottery, a day of its month not yet past, a whole booking unit from opening that ends by closing.
The same slot twice in one application would only waste a rank, so the form refuses it. Pure
functions and plain data, so they test alone; the view model holds one form per lottery.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from mobile.api import ApiError, Failure
from schema.lottery import MAX_PREFERENCES, LotteryResource, LotterySummary, Preference
from schema.time import TOKYO


@dataclass(frozen=True)
class Choice:
    """One preference: a resource and one booking unit, in Japan time."""

    resource_id: int
    start: datetime
    end: datetime

    def preference(self) -> Preference:
        return Preference(resource_id=self.resource_id, start=self.start, end=self.end)


@dataclass
class LotteryForm:
    """What is being chosen now (resource, day, unit start) and the preferences added so far, ranked."""

    resource_id: int
    day: date
    start: time
    preferences: list[Choice] = field(default_factory=list)
    # A device-side key (i18n) when adding was refused, with the rank it clashed with; None when fine.
    problem: str | None = None
    clash: int | None = None
    failure: Failure | None = None  # the server's answer to the last send

    @property
    def full(self) -> bool:
        return len(self.preferences) >= MAX_PREFERENCES


def month_days(month: date, now: datetime) -> list[date]:
    """Every day of the lottery's month that has not ended yet in Japan."""
    last = calendar.monthrange(month.year, month.month)[1]
    today = now.astimezone(TOKYO).date()
    return [day for n in range(1, last + 1) if (day := month.replace(day=n)) >= today]


def unit_starts(resource: LotteryResource) -> list[time]:
    """The starts of the whole units from opening that end by closing (as the server's units_of_day)."""
    anchor = date(2000, 1, 3)  # any day: opening hours are times of day
    start = datetime.combine(anchor, resource.opens_at)
    closes = datetime.combine(anchor, resource.closes_at)
    step = timedelta(minutes=resource.unit_minutes)
    starts = []
    while start + step <= closes:
        starts.append(start.time())
        start += step
    return starts


def unit_end(resource: LotteryResource, start: time) -> time:
    return (datetime.combine(date(2000, 1, 3), start) + timedelta(minutes=resource.unit_minutes)).time()


def resource_of(lottery: LotterySummary, resource_id: int) -> LotteryResource | None:
    return next((r for r in lottery.resources if r.id == resource_id), None)


def new_form(lottery: LotterySummary, now: datetime) -> LotteryForm:
    """The first resource, the first day still open and the first unit of the day."""
    resource = lottery.resources[0]
    days = month_days(lottery.month, now) or [lottery.month]
    return LotteryForm(resource_id=resource.id, day=days[0], start=unit_starts(resource)[0])


def choose_resource(form: LotteryForm, lottery: LotterySummary, resource_id: int) -> None:
    """Another resource keeps the chosen time if it is one of its units, else takes its first unit."""
    resource = resource_of(lottery, resource_id)
    if resource is None:
        return
    form.resource_id = resource_id
    starts = unit_starts(resource)
    if form.start not in starts:
        form.start = starts[0]
    form.problem = form.clash = None


def chosen(form: LotteryForm, lottery: LotterySummary) -> Choice | None:
    resource = resource_of(lottery, form.resource_id)
    if resource is None:
        return None
    start = datetime.combine(form.day, form.start, TOKYO)
    return Choice(resource.id, start, start + timedelta(minutes=resource.unit_minutes))


def add_preference(form: LotteryForm, lottery: LotterySummary) -> bool:
    """Add what is chosen as the next rank; refused (with `problem` set) when the ranks are full or
    the same slot is already one of them."""
    form.failure = None
    choice = chosen(form, lottery)
    if choice is None:
        return False
    if form.full:
        form.problem, form.clash = "preferences_full", None
        return False
    for rank, earlier in enumerate(form.preferences, 1):
        if earlier.resource_id == choice.resource_id and earlier.start < choice.end and choice.start < earlier.end:
            form.problem, form.clash = "same_slot_twice", rank
            return False
    form.preferences.append(choice)
    form.problem = form.clash = None
    return True


def remove_preference(form: LotteryForm, rank: int) -> None:
    """Remove the preference at `rank` (1-based); the ones after it move up a rank."""
    if 1 <= rank <= len(form.preferences):
        del form.preferences[rank - 1]
    form.problem = form.clash = None


# The server's words for a preference it refused (backend/lottery/service.py, backend/facilities/slots.py)
# → what a person reads, by the start of the message.
PREFERENCE_PROBLEMS = {
    "Not part of this lottery": "preference_not_in_lottery",
    "Not in the lottery's month": "preference_not_in_month",
    "Is in the past": "preference_in_past",
    "Outside opening hours": "preference_outside_hours",
    "Must start and end on": "preference_not_on_units",
    "Must be after start": "preference_not_on_units",
}
_PREFERENCE_FIELD = re.compile(r"^\$\.preferences\[(\d+)\]")


def preference_problems(failure: Failure) -> list[tuple[int, str]]:
    """(rank, i18n key) for each refused preference the server named; [] for any other failure."""
    if not isinstance(failure, ApiError):
        return []
    found = []
    for error in failure.errors:
        match = _PREFERENCE_FIELD.match(error.field)
        key = next((k for prefix, k in PREFERENCE_PROBLEMS.items() if error.message.startswith(prefix)), None)
        if match and key:
            found.append((int(match.group(1)) + 1, key))
    return found
