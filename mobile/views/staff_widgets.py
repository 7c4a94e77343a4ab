"""Pieces the staff homes share."""

from __future__ import annotations

from datetime import date

import flet as ft

from mobile.views.widgets import TARGET, Handler


def nav_button(icon: ft.IconData, label: str, on_click: Handler) -> ft.TextButton:
    """An icon with its words beside it. The words are the button's accessible name: a tooltip alone
    does not name a button in Flutter's web accessibility tree, and staff read faster with words."""
    return ft.TextButton(label, icon=icon, height=TARGET, on_click=on_click)


def day_label(day: date) -> str:
    return f"{day.isoformat()} ({'月火水木金土日'[day.weekday()]})"
