"""The prefecture's dashboard figures. Aggregates only: counts, sums and rates per week."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.analytics import queries
from backend.context import AppContext
from backend.errors import BadRequest
from backend.rows import from_row, from_rows
from schema.stats import BookingWeek, ChildcareWeek, EmsWeek, IntakeWeek, StatsOverview

# The open-hours grid is days × resources: a year of the prefecture is the most one view asks.
MAX_RANGE = timedelta(days=366)


def _rate(part: float, whole: float) -> float | None:
    return part / whole if whole else None


class AnalyticsService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def overview(self, start: datetime, end: datetime) -> StatsOverview:
        if end <= start:
            raise BadRequest("`to` must be after `from`.", slug="invalid-parameter")
        if end - start > MAX_RANGE:
            raise BadRequest("Ask for at most 366 days at once.", slug="invalid-parameter")
        async with self.ctx.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            bookings = await conn.fetch(queries.BOOKINGS, start, end)
            childcare = await conn.fetch(queries.CHILDCARE, start, end)
            intake = await conn.fetch(queries.INTAKE, start, end)
            ems = await conn.fetch(queries.EMS, start, end)
        return StatsOverview(
            start=start,
            end=end,
            bookings=[
                from_row(BookingWeek, r, utilisation=_rate(r["booked_hours"], r["open_hours"])) for r in bookings
            ],
            childcare=[from_row(ChildcareWeek, r, fill_rate=_rate(r["reserved"], r["capacity"])) for r in childcare],
            intake=from_rows(IntakeWeek, intake),
            ems=[
                from_row(
                    EmsWeek, r, share_needing_4_or_more=_rate(r["cases_needing_4_or_more"], r["cases_with_requests"])
                )
                for r in ems
            ],
        )
