"""Pieces every home uses: headings, steppers, the error line, times, colours, confirmation dialogs,
the shell's face."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import flet as ft

from mobile.api import Failure
from mobile.send_queue import QueueStore
from mobile.state.i18n import Translator
from mobile.state.session import SessionModel
from schema.time import TOKYO, local_hhmm

BIG = 56  # the main actions, for gloved hands
TARGET = 48  # the smallest touch target (WCAG 2.5.5 / Material)
# Dark enough for 4.5:1 against white text (WCAG AA) — amber and light greys are not.
STATE_COLORS = {"live": ft.Colors.GREEN_800, "connecting": ft.Colors.BROWN_700, "offline": ft.Colors.RED_800}
STATUS_COLORS = {"accepted": ft.Colors.GREEN_800, "selected": ft.Colors.BLUE_800, "declined": ft.Colors.RED_800,
                 "pending": ft.Colors.GREY_800, "released": ft.Colors.GREY_800}  # fmt: skip
MUTED = ft.Colors.GREY_800  # secondary text that still reads at 4.5:1 on white

Handler = Callable[[Any], Awaitable[None]]


class Shell(Protocol):
    """What a home's view may use of the app around it."""

    page: ft.Page
    t: Translator
    session: SessionModel

    def act(self, work: Callable[[], Awaitable[object]]) -> Handler: ...

    def render(self) -> None: ...

    async def remember(self, name: str, value: str) -> None: ...

    async def recall(self, name: str) -> Any: ...

    async def locate(self) -> tuple[float, float] | None: ...

    def queue_store(self) -> QueueStore: ...


def heading(text: str, size: int = 18) -> ft.Text:
    return ft.Text(text, size=size, weight=ft.FontWeight.BOLD)


def error_line(t: Translator, failure: Failure | None) -> list[ft.Control]:
    """The last error in the chosen language, or nothing."""
    if failure is None:
        return []
    return [ft.Text(t.failure(failure), color=ft.Colors.RED_800)]


def icon_button(icon: ft.IconData, label: str, on_click: Handler, *, disabled: bool = False) -> ft.Control:
    """An icon with a name a screen reader says, at least 48 px square. A tooltip does not reach the
    browser's accessibility tree (the button came out nameless) and next to a label it is read
    twice, so the name lives on the semantics only — merged with the button's own node: a named
    node around it alone left a nameless button inside (tests/e2e/test_self_contained.py)."""
    return ft.MergeSemantics(
        content=ft.Semantics(
            content=ft.IconButton(
                icon,
                on_click=on_click,
                icon_size=28,
                width=TARGET,
                height=TARGET,
                disabled=disabled,
            ),
            label=label,
            button=True,
        )
    )


def stepper(label: str, shown: str, minus: Handler, plus: Handler, *, label_width: int = 120) -> ft.Row:
    """label  [−]  value  [+], each button named "label −" / "label +"."""
    return ft.Row(
        [
            ft.Text(label, width=label_width),
            icon_button(ft.Icons.REMOVE, f"{label} −", minus),
            ft.Text(shown, size=22, width=72, text_align=ft.TextAlign.CENTER),
            icon_button(ft.Icons.ADD, f"{label} +", plus),
        ],
        wrap=True,
    )


def local_time(instant: str | datetime) -> str:
    """HH:MM in Japan time."""
    return local_hhmm(instant)


def meeting_label(instant: datetime) -> str:
    """M/D HH:MM in Japan time: a meeting (面談) date as people write it."""
    local = instant.astimezone(TOKYO)
    return f"{local.month}/{local.day} {local:%H:%M}"


def badge(text: str, color: str) -> ft.Container:
    return ft.Container(
        ft.Text(text, color=ft.Colors.WHITE, weight=ft.FontWeight.BOLD), bgcolor=color, padding=8, border_radius=8
    )


def choice_button(label: str, selected: bool, on_click: Handler) -> ft.Control:
    """One of a few exclusive choices (a language, a role): the chosen one filled dark and ticked, so
    it reads as chosen without relying on colour alone; the others outlined."""
    if selected:
        white, dark = ft.Colors.WHITE, ft.Colors.BLUE_800
        return ft.Button(label, icon=ft.Icons.CHECK, height=TARGET, bgcolor=dark, color=white, on_click=on_click)
    return ft.OutlinedButton(label, height=TARGET, on_click=on_click)


def said(control: ft.Control, **options: Any) -> ft.Semantics:
    """A line a screen reader says on its own. Inside a card (one semantic container) a text without
    its own node is folded into the card's label, and neither a reader nor a test finds it alone."""
    return ft.Semantics(container=True, content=control, **options)


def said_apart(lines: list[ft.Control]) -> ft.Column:
    """Lines a screen reader says one by one. As one node, Flutter's web semantics lays a long card
    out as a single unwrapped line of text that widens the page (and blanks full-page screenshots)."""
    return ft.Column([said(line) for line in lines])


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
