"""The nursery staff's home: parents' applications, the day's roster (large type, for the door),
the new-session form and the week's sessions."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from mobile.state.nursery import BANDS, BLOCKS, NurseryModel
from mobile.views.staff_widgets import day_label, nav_button
from mobile.views.widgets import (
    BIG,
    MUTED,
    TARGET,
    Shell,
    error_line,
    heading,
    icon_button,
    meeting_label,
    stepper,
)
from schema.childcare import PendingApplication, RosterChild

ROSTER_NAME = 26  # read at arm's length by whoever opens the door
ROSTER_TEXT = 20
MEETING = ft.Colors.BLUE_900


async def open_home(shell: Shell) -> NurseryModel:
    nursery_id = shell.session.organization("nursery")
    assert nursery_id is not None  # the home is only chosen for nursery members
    model = NurseryModel(shell.session.api, nursery_id)
    await model.resync()
    return model


def view(shell: Shell, model: NurseryModel) -> list[ft.Control]:
    return [
        *applications(shell, model),
        *roster(shell, model),
        *new_session(shell, model),
        *week(shell, model),
        *error_line(shell.t, model.error),
    ]


def applications(shell: Shell, model: NurseryModel) -> list[ft.Control]:
    """Each pending application: the child's name and age, the meeting (面談) set or to set, approve
    or decline. Each card is keyed by its application, so an answered one leaves without its
    neighbours' typed text sliding into its place."""
    t = shell.t
    controls: list[ft.Control] = [heading(t("nursery_applications"))]
    if not model.applications:
        controls.append(ft.Text(t("no_items")))
    for application in model.applications:
        who = f"{application.child_name} ({application.age_years}{t('years_old')})"
        name = application.child_name
        summary: list[ft.Control] = [ft.Text(who, size=ROSTER_TEXT, weight=ft.FontWeight.BOLD)]
        if application.meeting_at is not None:
            summary.append(
                ft.Text(f"{t('meeting')}: {meeting_label(application.meeting_at)}", size=ROSTER_TEXT, color=MEETING)
            )

        async def decline(application: PendingApplication = application) -> None:
            await model.decline(application.child_id, application.id, model.decline_reasons.get(application.id, ""))

        controls.append(
            ft.Card(
                ft.Container(
                    ft.Column(
                        [
                            ft.Semantics(container=True, content=ft.Column(summary, spacing=2)),
                            ft.Row(
                                [
                                    bound_field(
                                        t("meeting_at"),
                                        model.meeting_draft(application),
                                        model.meeting_drafts,
                                        application.id,
                                        hint="2026-12-03 10:00",
                                        width=300,
                                    ),
                                    ft.Button(
                                        f"{t('set_meeting')}: {name}",
                                        height=TARGET,
                                        on_click=shell.act(partial(model.set_meeting, application)),
                                    ),
                                ],
                                wrap=True,
                            ),
                            ft.Row(
                                [
                                    ft.Button(
                                        f"{t('approve_application')}: {name}",
                                        height=TARGET,
                                        on_click=shell.act(partial(model.approve, application.child_id)),
                                    ),
                                    bound_field(
                                        t("decline_reason"),
                                        model.decline_reasons.get(application.id, ""),
                                        model.decline_reasons,
                                        application.id,
                                    ),
                                    ft.OutlinedButton(
                                        f"{t('decline_application')}: {name}",
                                        height=TARGET,
                                        on_click=shell.act(decline),
                                    ),
                                ],
                                wrap=True,
                            ),
                        ]
                    ),
                    padding=12,
                ),
                key=f"application-{application.id}",
            )
        )
    return controls


def bound_field(
    label: str, value: str, drafts: dict[int, str], draft_id: int, hint: str | None = None, width: int = 220
) -> ft.TextField:
    """A field whose every keystroke lands in the model's drafts, so a redraw (a parent's event, a
    colleague's answer) keeps what was typed."""

    def keep(event: Any) -> None:
        drafts[draft_id] = event.control.value or ""

    return ft.TextField(label=label, value=value, hint_text=hint, width=width, on_change=keep)


def roster(shell: Shell, model: NurseryModel) -> list[ft.Control]:
    t = shell.t

    async def save_for_printing() -> None:
        """The roster on screen as an HTML page to print (large type, one page per session)."""
        picker = ft.FilePicker()
        shell.page.services.append(picker)
        await picker.save_file(file_name=model.roster_file_name, src_bytes=model.roster_document(t))

    controls: list[ft.Control] = [
        heading(t("roster")),
        ft.Row(
            [
                nav_button(ft.Icons.CHEVRON_LEFT, t("previous_day"), shell.act(partial(model.shift_day, -1))),
                ft.Text(day_label(model.day), size=ROSTER_TEXT),
                nav_button(ft.Icons.CHEVRON_RIGHT, t("next_day"), shell.act(partial(model.shift_day, 1))),
                nav_button(ft.Icons.REFRESH, t("refresh"), shell.act(model.resync)),
                nav_button(
                    ft.Icons.PRINT, f"{t('print_roster')}: {day_label(model.day)}", shell.act(save_for_printing)
                ),
            ],
            wrap=True,
        ),
    ]
    if not model.roster:
        controls.append(ft.Text(t("no_sessions")))
    for session in model.roster:
        title = t(session.block)
        if session.cancelled_at:
            title += f" · {t('cancelled')}"
        controls.append(heading(title, size=22))
        for band in session.bands:
            controls.append(ft.Text(f"{t('band_' + band.band)}: {band.used}/{band.capacity}", color=MUTED, size=16))
            for child in band.children:
                controls.append(roster_child(shell, model, child))
    return controls


def roster_child(shell: Shell, model: NurseryModel, child: RosterChild) -> ft.Control:
    t = shell.t
    lines: list[ft.Control] = [
        ft.Text(f"{child.name} ({child.age_years}{t('years_old')})", size=ROSTER_NAME, weight=ft.FontWeight.BOLD)
    ]
    if child.allergies:
        allergies = "、".join(child.allergies)
        lines.append(
            ft.Text(
                f"{t('allergies')}: {allergies}", size=ROSTER_TEXT, color=ft.Colors.RED_800, weight=ft.FontWeight.BOLD
            )
        )
    if child.notes:
        lines.append(ft.Text(child.notes, size=ROSTER_TEXT))
    state = child.attendance
    if state == "expected":
        lines.append(
            ft.Row(
                [
                    ft.Button(
                        f"{t('arrived')}: {child.name}",
                        height=BIG,
                        on_click=shell.act(partial(model.attend, child.reservation_id, "arrived")),
                    ),
                    ft.OutlinedButton(
                        f"{t('no_show')}: {child.name}",
                        height=BIG,
                        on_click=shell.act(partial(model.attend, child.reservation_id, "no_show")),
                    ),
                ],
                wrap=True,
            )
        )
    else:
        lines.append(ft.Text(t(state), size=ROSTER_TEXT, weight=ft.FontWeight.BOLD))
    return ft.Card(ft.Container(ft.Column(lines), padding=12))


def new_session(shell: Shell, model: NurseryModel) -> list[ft.Control]:
    t = shell.t

    async def choose(block: str) -> None:
        model.block = block

    async def places(band: str, delta: int) -> None:
        model.set_places(band, model.capacity[band] + delta)

    blocks: list[ft.Control] = [
        (ft.Button if block == model.block else ft.OutlinedButton)(
            t(block), height=TARGET, on_click=shell.act(partial(choose, block))
        )
        for block in BLOCKS
    ]
    return [
        heading(f"{t('new_session')} · {day_label(model.day)}"),
        ft.Row(blocks, wrap=True),
        *(
            stepper(
                t("band_" + band),
                str(model.capacity[band]),
                shell.act(partial(places, band, -1)),
                shell.act(partial(places, band, 1)),
            )
            for band in BANDS
        ),
        ft.Button(t("open_session"), height=BIG, on_click=shell.act(model.create_session)),
    ]


def week(shell: Shell, model: NurseryModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [
        heading(t("sessions_of_week")),
        ft.Row(
            [
                nav_button(ft.Icons.CHEVRON_LEFT, t("previous_week"), shell.act(partial(model.shift_week, -1))),
                ft.Text(f"{day_label(model.week)} –", size=ROSTER_TEXT),
                nav_button(ft.Icons.CHEVRON_RIGHT, t("next_week"), shell.act(partial(model.shift_week, 1))),
            ],
            wrap=True,
        ),
    ]
    if not model.sessions:
        controls.append(ft.Text(t("no_sessions")))
    for session in model.sessions:
        day = session.date
        title = f"{day_label(day)} {t(session.block)}"
        lines: list[ft.Control] = [
            ft.Row(
                [
                    ft.Text(title, size=ROSTER_TEXT, weight=ft.FontWeight.BOLD),
                    ft.TextButton(
                        f"{t('show_roster')}: {title}", height=TARGET, on_click=shell.act(partial(model.show_day, day))
                    ),
                ],
                wrap=True,
            )
        ]
        if session.cancelled_at:
            lines.append(ft.Text(f"{t('cancelled')}: {session.cancel_reason or ''}", color=ft.Colors.RED_800))
            controls.append(ft.Card(ft.Container(ft.Column(lines), padding=12)))
            continue
        for places in session.places:
            band = places.band
            label = f"{title} {t('band_' + band)}"
            lines.append(
                ft.Row(
                    [
                        ft.Text(f"{t('band_' + band)}: {places.used}/{places.capacity}", width=160),
                        icon_button(
                            ft.Icons.REMOVE,
                            f"{label} −",
                            shell.act(partial(model.change_capacity, session.id, band, places.capacity - 1)),
                        ),
                        icon_button(
                            ft.Icons.ADD,
                            f"{label} +",
                            shell.act(partial(model.change_capacity, session.id, band, places.capacity + 1)),
                        ),
                    ],
                    wrap=True,
                )
            )
        # Its own semantics node: otherwise Flutter folds the card's lines into the reason field's name.
        lines = [ft.Semantics(container=True, content=ft.Column(lines))]
        reason = ft.TextField(label=t("cancel_reason"), width=220)

        async def cancel(session_id: int = session.id, reason: ft.TextField = reason) -> None:
            await model.cancel_session(session_id, reason.value or "")

        lines.append(
            ft.Row(
                [
                    reason,
                    ft.OutlinedButton(f"{t('cancel_session')}: {title}", height=TARGET, on_click=shell.act(cancel)),
                ],
                wrap=True,
            )
        )
        controls.append(ft.Card(ft.Container(ft.Column(lines), padding=12)))
    return controls
