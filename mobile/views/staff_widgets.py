"""Pieces the staff homes share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import flet as ft

from mobile.views.widgets import TARGET, Handler, Shell


def nav_button(icon: ft.IconData, label: str, on_click: Handler) -> ft.TextButton:
    """An icon with its words beside it. The words are the button's accessible name: a tooltip alone
    does not name a button in Flutter's web accessibility tree, and staff read faster with words."""
    return ft.TextButton(label, icon=icon, height=TARGET, on_click=on_click)


def day_label(day: date) -> str:
    return f"{day.isoformat()} ({'月火水木金土日'[day.weekday()]})"


def ask(
    shell: Shell,
    title: str,
    content: list[ft.Control],
    confirm_label: str,
    on_confirm: Callable[[], Awaitable[object]],
) -> None:
    """A confirmation dialog in front of an action that cannot be taken back (cancel, close, draw):
    "back" leaves everything as it was; the confirm button names the action again."""

    async def confirm(_: Any) -> None:
        shell.page.pop_dialog()
        await on_confirm()
        shell.render()

    async def back(_: Any) -> None:
        shell.page.pop_dialog()

    shell.page.show_dialog(
        ft.AlertDialog(
            modal=True,
            title=ft.Text(title),
            content=ft.Column(content, tight=True, width=420),  # as tall as its words, no taller
            actions=[
                ft.TextButton(shell.t("back"), height=TARGET, on_click=back),
                ft.Button(confirm_label, height=TARGET, on_click=confirm),
            ],
        )
    )
