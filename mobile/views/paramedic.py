"""The paramedic's home: the case form for gloved hands, hospitals to ask, live answers."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from mobile.send_queue import SendQueue
from mobile.state.paramedic import JCS_VALUES, ParamedicModel
from mobile.views.widgets import BIG, STATUS_COLORS, Shell, error_line, heading, stepper


async def open_home(shell: Shell) -> ParamedicModel:
    model = ParamedicModel(shell.session.api, await SendQueue.open(shell.session.api, shell.queue_store()))
    await model.load_hospitals()
    return model


def _stepper(shell: Shell, model: ParamedicModel, name: str, label: str) -> ft.Control:
    def step(direction: int) -> Any:
        async def apply() -> None:
            model.step(name, direction)

        return shell.act(apply)

    return stepper(label, str(getattr(model, name)), step(-1), step(1))


def view(shell: Shell, model: ParamedicModel) -> list[ft.Control]:
    t = shell.t

    async def set_sex(sex: str) -> None:
        model.sex = sex

    sexes: list[ft.Control] = [ft.Text(t("sex"), width=120)]
    sexes += [
        ft.Button(
            t(sex),
            height=BIG,
            on_click=shell.act(partial(set_sex, sex)),
            bgcolor=ft.Colors.BLUE_100 if model.sex == sex else None,
        )
        for sex in ("male", "female", "unknown")
    ]

    async def set_jcs(event: Any) -> None:
        model.jcs = event.control.value
        shell.render()

    def set_complaint(event: Any) -> None:
        model.complaint = event.control.value or ""

    controls: list[ft.Control] = [heading(t("new_case"))]
    if model.case_id is None:
        controls += [
            _stepper(shell, model, "age", t("age")),
            ft.Row(sexes, wrap=True),
            ft.TextField(label=t("complaint"), value=model.complaint, on_change=set_complaint, multiline=True),
            ft.Dropdown(
                label=t("jcs"),
                tooltip=t("jcs"),
                value=model.jcs,
                width=200,
                on_select=set_jcs,
                options=[ft.DropdownOption(key=value, text=value) for value in JCS_VALUES],
            ),
            ft.Text(t("gcs")),
            _stepper(shell, model, "e", "E"),
            _stepper(shell, model, "v", "V"),
            _stepper(shell, model, "m", "M"),
            _stepper(shell, model, "sbp", t("sbp")),
            _stepper(shell, model, "hr", t("hr")),
            _stepper(shell, model, "spo2", t("spo2")),
        ]
    controls.append(heading(t("hospitals")))
    for hospital in model.hospitals:

        async def toggle(_: Any, hospital_id: int = hospital.hospital_id) -> None:
            model.toggle(hospital_id)
            shell.render()

        distance = f"{hospital.km:.1f} km" if hospital.km is not None else "— km"
        controls.append(
            ft.Checkbox(
                label=f"{hospital.name} · {distance} · {t(hospital.best)}",
                value=hospital.hospital_id in model.selected,
                on_change=toggle,
            )
        )
    controls.append(ft.Button(t("send_to_selected"), height=BIG, on_click=shell.act(model.send)))

    async def attach_photo() -> None:
        picker = ft.FilePicker()
        shell.page.services.append(picker)
        files = await picker.pick_files(file_type=ft.FilePickerFileType.IMAGE, with_data=True)
        for picked in files or []:
            if picked.bytes:
                await model.attach(picked.name, bytes(picked.bytes))

    controls.append(
        ft.Button(t("attach_photo"), icon=ft.Icons.PHOTO_CAMERA, height=BIG, on_click=shell.act(attach_photo))
    )
    if model.photos_sent or model.photos_pending:
        controls.append(
            ft.Text(f"{t('photos')}: {len(model.photos_sent)} {t('sent')} · {len(model.photos_pending)} {t('queued')}")
        )
    if model.requests:
        controls.append(heading(t("answers")))
        for hospital_id, request in sorted(model.requests.items()):
            row: list[ft.Control] = [
                ft.Text(model.hospital_name(hospital_id), expand=True),
                ft.Text(t(request.status), color=STATUS_COLORS.get(request.status)),
            ]
            if request.status == "declined" and request.reason:
                row.append(ft.Text(t(request.reason)))
            if request.status == "accepted":
                row.append(
                    ft.Button(
                        t("confirm_destination"), height=BIG, on_click=shell.act(partial(model.confirm, hospital_id))
                    )
                )
            controls.append(ft.Row(row))
    if model.queue.items:
        controls.append(ft.Text(t("queue"), size=16))
        controls += [
            ft.Text(f"{t(item.label)}: {t(item.status)}" + (f" — {item.error}" if item.error else ""))
            for item in model.queue.items
        ]
    return controls + error_line(t, model.error)
