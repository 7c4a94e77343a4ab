"""HTTP ↔ AnalyticsService. No rules here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from litestar import Router, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from backend.analytics.service import AnalyticsService
from backend.auth import PREFECTURE_ADMIN
from backend.context import app_context
from schema.stats import StatsOverview


def analytics_service(state: State) -> AnalyticsService:
    return AnalyticsService(app_context(state))


@get("/v1/stats/overview", access=PREFECTURE_ADMIN, operation_id="statsOverview")
async def overview(
    analytics: NamedDependency[AnalyticsService],
    start: Annotated[datetime | None, QueryParameter(name="from")] = None,
    end: Annotated[datetime | None, QueryParameter(name="to")] = None,
) -> StatsOverview:
    """Per week: bookings and utilisation per municipality and facility kind, childcare fill rate per
    band, intake requests and minutes to placement, EMS cases, inquiries per case and share needing ≥ 4.
    De-identified aggregates only; defaults to the last 12 weeks, at most 366 days."""
    end = end or analytics.ctx.clock.now()
    return await analytics.overview(start or end - timedelta(weeks=12), end)


router = Router(
    path="/",
    tags=["analytics"],
    route_handlers=[overview],
    dependencies={"analytics": Provide(analytics_service, sync_to_thread=False)},
)
