"""The dashboard's charts are sums of the server's weekly rows: per week, per municipality, as shares."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mobile.state.admin import dashboard
from mobile.views.charts import axis_top
from schema.stats import BookingWeek, ChildcareWeek, EmsWeek, StatsOverview

W1, W2 = date(2030, 1, 7), date(2030, 1, 14)


def booking(week: date, municipality: int, bookings: int, booked: float, open_: float) -> BookingWeek:
    return BookingWeek(
        week=week, municipality_id=municipality, facility_kind="gym", bookings=bookings,
        booked_hours=booked, open_hours=open_, utilisation=None,
    )  # fmt: skip


def test_charts_sum_weeks_and_municipalities_and_keep_shares_as_fractions() -> None:
    stats = StatsOverview(
        start=datetime(2030, 1, 7, tzinfo=UTC),
        end=datetime(2030, 1, 21, tzinfo=UTC),
        bookings=[booking(W1, 1, 2, 4, 40), booking(W1, 2, 1, 2, 40), booking(W2, 1, 3, 6, 40)],
        childcare=[
            ChildcareWeek(week=W1, band="0", capacity=2, reserved=2, fill_rate=1.0),
            ChildcareWeek(week=W1, band="3-5", capacity=8, reserved=3, fill_rate=0.375),
        ],
        intake=[],
        ems=[
            EmsWeek(
                week=W2,
                cases=2,
                cases_with_requests=2,
                mean_inquiries_per_case=2.5,
                cases_needing_4_or_more=1,
                share_needing_4_or_more=0.5,
            )
        ],
    )
    charts = {series.title: series for series in dashboard(stats, {1: "水戸市"})}
    assert charts["chart_bookings_per_week"].points == [("1/7", 3), ("1/14", 3)]
    # By name where the client knows it, by number where it does not.
    assert charts["chart_bookings_per_municipality"].points == [("水戸市", 5), ("#2", 1)]
    assert charts["chart_utilisation_per_municipality"].points == [("水戸市", 10 / 80), ("#2", 2 / 40)]
    assert charts["chart_childcare_fill_rate"].points == [("1/7", 0.5)]
    assert charts["chart_minutes_to_placement"].points == []
    assert charts["chart_share_4_or_more"].points == [("1/14", 0.5)]
    assert charts["chart_share_4_or_more"].percent


def test_the_value_axis_ends_on_a_round_number_above_the_highest_bar() -> None:
    assert [axis_top(x, percent=False) for x in (0, 0.5, 3, 6, 13.8, 250)] == [4.0, 0.8, 4, 8, 20, 400]
    assert [axis_top(x, percent=True) for x in (0.05, 0.3, 0.7)] == [0.1, 0.5, 1.0]
