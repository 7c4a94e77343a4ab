"""The resident's (and parent's) home: vacancies by day, bookings, lotteries, childcare."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from mobile.state.lists import ResidentModel
from mobile.views.widgets import TARGET, Shell, error_line, heading, icon_button, local_time, stepper


async def open_home(shell: Shell) -> ResidentModel:
    model = ResidentModel(shell.session.api)
    await model.load()
    return model


def view(shell: Shell, model: ResidentModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [
        ft.Row(
            [
                icon_button(ft.Icons.CHEVRON_LEFT, t("previous_day"), shell.act(partial(model.next_day, -1))),
                heading(f"{t('vacancies')} {model.day}"),
                icon_button(ft.Icons.CHEVRON_RIGHT, t("next_day"), shell.act(partial(model.next_day, 1))),
            ]
        )
    ]
    place = None
    for vacancy in model.vacancies[:20]:
        if model.place(vacancy["resourceId"]) != place:
            place = model.place(vacancy["resourceId"])
            controls.append(ft.Text(place, weight=ft.FontWeight.BOLD))
        when = f"{local_time(vacancy['start'])}–{local_time(vacancy['end'])}"
        controls.append(
            ft.Row(
                [
                    ft.Text(when, expand=True),
                    ft.Button(t("book"), height=TARGET, on_click=shell.act(partial(model.book, vacancy))),
                ]
            )
        )

    async def save_calendar() -> None:
        if (ics := await model.calendar()) is not None:
            picker = ft.FilePicker()
            shell.page.services.append(picker)
            await picker.save_file(file_name="musubi-bookings.ics", src_bytes=ics)

    controls.append(
        ft.Row(
            [
                ft.Text(t("my_bookings"), size=18, weight=ft.FontWeight.BOLD, expand=True),
                ft.TextButton(
                    t("add_to_calendar"), icon=ft.Icons.EVENT, height=TARGET, on_click=shell.act(save_calendar)
                ),
            ]
        )
    )
    for booking in model.bookings:
        when = f"{booking['start'][:10]} {local_time(booking['start'])}"
        summary = f"{model.place(booking['resourceId'])} {when} · {t(booking['status'])}"
        row: list[ft.Control] = [ft.Text(f"{summary} · ¥{booking['fee']}", expand=True)]
        if booking["status"] == "held":
            row.append(ft.Button(t("take_offer"), height=TARGET, on_click=shell.act(partial(model.take_hold, booking))))
        if booking["status"] in ("provisional", "confirmed", "held"):
            row.append(
                ft.TextButton(t("cancel"), height=TARGET, on_click=shell.act(partial(model.cancel, booking["id"])))
            )
        controls.append(ft.Row(row))
    if not model.bookings:
        controls.append(ft.Text(t("no_items")))
    if model.lotteries or model.applications:
        controls.append(heading(t("lottery")))
    for lottery in model.lotteries:
        controls.append(lottery_card(shell, model, lottery))
    for application in model.applications:
        outcome = {"drawn": t("won") if application["wonRank"] else t("lost")}.get(
            application["state"], t("waiting_draw")
        )
        first = application["preferences"][0]
        controls.append(
            ft.Text(f"#{application['lotteryId']} {first['start'][:10]} {local_time(first['start'])} · {outcome}")
        )
    if model.children or model.reservations:
        controls.append(heading(t("childcare")))
    for reservation in model.reservations:
        where = f"{reservation['date']} {t(reservation['block'])} #{reservation['nurseryId']}"
        controls.append(
            ft.Row(
                [
                    ft.Text(f"{where} · {t(reservation['status'])}", expand=True),
                    ft.TextButton(
                        t("cancel"),
                        height=TARGET,
                        on_click=shell.act(partial(model.cancel_reservation, reservation["id"])),
                    ),
                ]
            )
        )
    for child in model.children:
        controls.append(ft.Text(f"{child['name']} ({child['birthDate']})", weight=ft.FontWeight.BOLD))
        for session in model.childcare.get(child["id"], []):
            controls.append(
                ft.Row(
                    [
                        ft.Text(session["mark"], size=22, width=36),
                        ft.Text(f"#{session['nurseryId']} {t(session['block'])} ({session['band']})", expand=True),
                        ft.Button(
                            t("reserve"),
                            height=TARGET,
                            disabled=session["mark"] == "×",
                            on_click=shell.act(partial(model.reserve, child["id"], session["sessionId"])),
                        ),
                    ]
                )
            )
    return controls + error_line(t, model.error)


def lottery_card(shell: Shell, model: ResidentModel, lottery: dict[str, Any]) -> ft.Control:
    t = shell.t
    day, hour = model.choice(lottery["id"])

    def nudge(which: str, delta: int) -> Any:
        return shell.act(partial(model.nudge, lottery["id"], which, delta))

    heading_text = f"#{lottery['id']} {lottery['month'][:7]} · {t('closes')} {lottery['closesAt'][:10]}"
    return ft.Card(
        ft.Container(
            ft.Column(
                [
                    ft.Text(heading_text),
                    stepper(t("day"), str(day), nudge("day", -1), nudge("day", 1), label_width=60),
                    stepper(t("hour"), f"{hour}:00", nudge("hour", -1), nudge("hour", 1), label_width=60),
                    ft.Button(t("apply"), height=TARGET, on_click=shell.act(partial(model.apply_choice, lottery))),
                ]
            ),
            padding=12,
        )
    )
