"""The resident's (and parent's) home: vacancies by day, bookings, lotteries, childcare."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import flet as ft

from mobile.state.i18n import LABELS
from mobile.state.lists import ResidentModel
from mobile.views.widgets import MUTED, TARGET, Shell, error_line, heading, icon_button, local_time, stepper


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
    for vacancy in model.vacancies:
        if model.place(vacancy["resourceId"]) != place:
            place = model.place(vacancy["resourceId"])
            controls.append(ft.Text(place, weight=ft.FontWeight.BOLD))
        when = f"{local_time(vacancy['start'])}–{local_time(vacancy['end'])}"
        action: ft.Control
        if vacancy["state"] == "free":
            action = ft.Button(t("book"), height=TARGET, on_click=partial(open_sheet, shell, model, vacancy))
        elif (vacancy["resourceId"], vacancy["start"]) in model.mine:
            action = ft.Text(t("your_booking"), color=MUTED)
        elif (vacancy["resourceId"], vacancy["start"]) in model.waiting:
            action = ft.Text(t("on_waitlist"), color=MUTED)
        else:
            action = ft.OutlinedButton(
                t("join_waitlist"), height=TARGET, on_click=shell.act(partial(model.join_waitlist, vacancy))
            )
        state = "" if vacancy["state"] == "free" else f" · {t('slot_' + vacancy['state'])}"
        controls.append(ft.Row([ft.Text(f"{when}{state}", width=150), action], wrap=True))

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


def _sheet_content(
    shell: Shell, model: ResidentModel, vacancy: dict[str, Any], redraw: Callable[[], None]
) -> ft.Control:
    t = shell.t
    quote = model.quote(vacancy)
    lines: list[ft.Control] = [
        ft.Text(f"{model.place(vacancy['resourceId'])}", weight=ft.FontWeight.BOLD),
        ft.Text(f"{vacancy['start'][:10]} {local_time(vacancy['start'])}–{local_time(vacancy['end'])}"),
        ft.Text(f"{t('fee_resident')}: ¥{quote['resident']:,}", size=18, weight=ft.FontWeight.BOLD),
    ]
    if quote["nonResident"] is not None and quote["nonResident"] != quote["resident"]:
        lines.append(ft.Text(f"{t('fee_non_resident')}: ¥{quote['nonResident']:,}", size=18))
        lines.append(ft.Text(t("rate_by_address"), color=MUTED))
    if quote["reductions"]:

        async def pick(event: Any) -> None:
            model.reduction = event.control.value or None
            redraw()

        options = ["", *quote["reductions"]]
        lines += [
            ft.Text(t("reduction")),
            ft.RadioGroup(
                ft.Column(
                    [
                        ft.Radio(value=o, label=t(o) if o in LABELS else o or t("no_reduction"), height=TARGET)
                        for o in options
                    ]
                ),
                value=model.reduction or "",
                on_change=pick,
            ),
        ]
    cancel_by, pay_by = quote["cancelBy"], quote["payBy"]
    lines += [
        ft.Text(f"{t('cancel_by')}: {cancel_by:%Y-%m-%d} {local_time(cancel_by)}"),
        ft.Text(f"{t('pay_by')}: {pay_by:%Y-%m-%d} {local_time(pay_by)}"),
    ]
    return ft.Column(lines, tight=True, scroll=ft.ScrollMode.AUTO)


async def open_sheet(shell: Shell, model: ResidentModel, vacancy: dict[str, Any], _: Any = None) -> None:
    """The confirmation sheet: fee, reduction, cancellation and payment deadlines, then Confirm."""
    t = shell.t
    await model.ask_to_book(vacancy)

    def redraw() -> None:
        sheet.content = _sheet_content(shell, model, vacancy, redraw)
        sheet.update()

    async def confirm(_: Any) -> None:
        shell.page.pop_dialog()
        await model.confirm()
        shell.render()

    async def cancel(_: Any) -> None:
        shell.page.pop_dialog()
        await model.close_sheet()

    sheet = ft.AlertDialog(
        modal=True,
        title=ft.Text(t("confirm_booking")),
        content=ft.Text(""),
        actions=[
            ft.TextButton(t("back"), height=TARGET, on_click=cancel),
            ft.Button(t("confirm"), height=TARGET, on_click=confirm),
        ],
    )
    sheet.content = _sheet_content(shell, model, vacancy, redraw)
    shell.page.show_dialog(sheet)
