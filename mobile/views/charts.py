"""Bar charts for the dashboard (flet-charts, whose Flutter side the prebuilt web client carries).
A chart is a canvas a screen reader cannot read, so each one also carries its numbers as text."""

from __future__ import annotations

import math

import flet as ft
import flet_charts as fch

from mobile.state.admin import Series
from mobile.state.i18n import Translator
from mobile.views.widgets import MUTED, heading

CHART_HEIGHT = 220
BAR_COLOR = ft.Colors.BLUE_800  # 4.5:1 against white, like the text


def _shown(series: Series, value: float) -> str:
    return f"{value * 100:.0f}%" if series.percent else f"{value:g}" if value == int(value) else f"{value:.1f}"


def axis_top(highest: float, percent: bool) -> float:
    """A round top for the value axis (1, 2 or 5 times a power of ten, or 100 %), above the highest bar."""
    if percent:
        return next((top for top in (0.1, 0.2, 0.5, 1.0) if highest <= top), 1.0)
    if highest <= 0:
        return 4.0
    power = 10.0 ** math.floor(math.log10(highest))
    return next(step * power for step in (1, 2, 4, 8, 10) if highest <= step * power)


def bar_chart(t: Translator, series: Series) -> ft.Control:
    title = t(series.title)
    if not series.points:
        return ft.Column([heading(title, size=16), ft.Text(t("no_data"), color=MUTED)])
    top = axis_top(max(value for _, value in series.points), series.percent)
    # Every label of a long series would overlap: name about six of them.
    step = max(1, len(series.points) // 6)
    chart = fch.BarChart(
        groups=[
            fch.BarChartGroup(
                x=i,
                rods=[
                    fch.BarChartRod(
                        from_y=0,
                        to_y=value,
                        width=14,
                        color=BAR_COLOR,
                        border_radius=2,
                        tooltip=f"{label}: {_shown(series, value)}",
                    )
                ],
            )
            for i, (label, value) in enumerate(series.points)
        ],
        bottom_axis=fch.ChartAxis(
            labels=[
                fch.ChartAxisLabel(value=i, label=ft.Text(label, size=11))
                for i, (label, _) in enumerate(series.points)
                if i % step == 0
            ],
            label_size=28,
        ),
        left_axis=fch.ChartAxis(
            labels=[fch.ChartAxisLabel(value=v, label=ft.Text(_shown(series, v), size=11)) for v in (0, top / 2, top)],
            label_size=44,
        ),
        horizontal_grid_lines=fch.ChartGridLines(color=ft.Colors.GREY_300, width=1, dash_pattern=[3, 3]),
        min_y=0,
        max_y=top,
        interactive=True,
        height=CHART_HEIGHT,
    )
    numbers = " · ".join(f"{label} {_shown(series, value)}" for label, value in series.points)
    return ft.Column(
        [
            heading(title, size=16),
            ft.Semantics(content=ft.Container(chart, height=CHART_HEIGHT, padding=8), label=f"{title}: {numbers}"),
            ft.Text(numbers, size=12, color=MUTED),
        ]
    )
