"""The paramedic's home: the case form for gloved hands, hospitals to ask, live answers, later
vitals and the case's timeline."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from mobile.send_queue import SendQueue
from mobile.state.i18n import Translator
from mobile.state.paramedic import JCS_VALUES, VITALS, ParamedicModel, TimelineEntry
from mobile.views.widgets import BIG, MUTED, STATUS_COLORS, Shell, error_line, heading, local_time, stepper
from schema.ems import VitalsRecord

VITALS_LABELS = {"sbp": "sbp", "dbp": "dbp", "hr": "hr", "rr": "rr", "spo2": "spo2", "temp10": "temp"}


async def open_home(shell: Shell) -> ParamedicModel:
    model = ParamedicModel(shell.session.api, await SendQueue.open(shell.session.api, shell.queue_store()))
    model.resume()  # what the stored queue still holds is the crew's current case
    await model.load_hospitals()
    await model.resync()
    # The position comes when the browser gives it (the person may first be asked): the form is usable meanwhile.
    shell.page.run_task(shell.act(partial(_locate, shell, model)), None)
    return model


async def _locate(shell: Shell, model: ParamedicModel) -> None:
    model.located = None
    await model.use_position(await shell.locate())


def _stepper(shell: Shell, model: ParamedicModel, name: str, label: str) -> ft.Control:
    def step(direction: int) -> Any:
        async def apply() -> None:
            model.step(name, direction)

        return shell.act(apply)

    value = getattr(model, name)
    shown = f"{value / 10:.1f}" if name == "temp10" else str(value)
    return stepper(label, shown, step(-1), step(1))


def vitals_line(vitals: VitalsRecord) -> str:
    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    return (
        f"BP {shown(vitals.sbp)}/{shown(vitals.dbp)} · HR {shown(vitals.hr)} · RR {shown(vitals.rr)} · "
        f"SpO2 {shown(vitals.spo2)} · {shown(vitals.temp)}℃"
    )


def _timeline_text(t: Translator, model: ParamedicModel, entry: TimelineEntry) -> str:
    at = local_time(entry.at)
    if entry.kind == "vitals" and entry.vitals is not None:
        return f"{at} {t('vitals_set')}: {vitals_line(entry.vitals)}"
    name = model.hospital_name(entry.hospital_id or 0)
    if entry.kind == "sent":
        return f"{at} {t('request_sent')} → {name}"
    reason = f" ({t(entry.reason)})" if entry.reason else ""
    return f"{at} {name}: {t(entry.status or 'pending')}{reason}"


def view(shell: Shell, model: ParamedicModel) -> list[ft.Control]:
    t = shell.t
    opened = model.case_id is not None or model.open_key is not None
    controls: list[ft.Control] = [heading(t("new_case") if model.case_id is None else f"{t('case')} #{model.case_id}")]
    if not opened:
        controls += _form(shell, model)
    else:
        controls.append(
            ft.Button(t("start_new_case"), icon=ft.Icons.ADD, height=BIG, on_click=shell.act(_new_case(model)))
        )
    controls += _hospitals(shell, model)
    if model.requests:
        controls += _answers(shell, model)
    if opened:
        controls.append(heading(t("later_vitals")))
        controls += [_stepper(shell, model, name, t(VITALS_LABELS[name])) for name in VITALS]
        controls.append(ft.Button(t("record_vitals"), icon=ft.Icons.MONITOR_HEART, height=BIG,
                                  on_click=shell.act(model.add_vitals)))  # fmt: skip
    timeline = model.timeline()
    if timeline:
        controls.append(heading(t("timeline")))
        controls += [ft.Text(_timeline_text(t, model, entry)) for entry in timeline]
    if model.queued:
        controls.append(ft.Text(t("queue"), size=16))
        controls += [
            ft.Text(f"{t(item.label)}: {t(item.status)}" + (f" — {item.error}" if item.error else ""))
            for item in model.queued
        ]
    return controls + error_line(t, model.error)


def _new_case(model: ParamedicModel) -> Any:
    async def reset() -> None:
        model.new_case()

    return reset


def _form(shell: Shell, model: ParamedicModel) -> list[ft.Control]:
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

    def bind(name: str) -> Any:
        def keep(event: Any) -> None:
            setattr(model, name, event.control.value or "")

        return keep

    return [
        _stepper(shell, model, "age", t("age")),
        ft.Row(sexes, wrap=True),
        ft.TextField(label=t("complaint"), value=model.complaint, on_change=bind("complaint"), multiline=True),
        ft.TextField(
            label=t("allergies"), value=model.allergies, on_change=bind("allergies"), hint_text=t("list_hint")
        ),
        ft.TextField(
            label=t("medications"), value=model.medications, on_change=bind("medications"), hint_text=t("list_hint")
        ),
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
        ft.Text(t("vitals")),
        *[_stepper(shell, model, name, t(VITALS_LABELS[name])) for name in VITALS],
        _stepper(shell, model, "eta", t("eta_minutes")),
    ]


def _hospitals(shell: Shell, model: ParamedicModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("hospitals"))]
    # Which point the distances (and the case's location) are from: one keyed block whatever it
    # says, so the controls below keep their place when the browser answers (a redraw that shifted
    # them lost the tap on "send" that landed at that moment).
    location: list[ft.Control]
    if model.located is None:
        location = [ft.Text(t("locating"), color=MUTED)]
    elif model.located:
        location = [ft.Row([ft.Icon(ft.Icons.MY_LOCATION, color=ft.Colors.BLUE_800),
                            ft.Text(t("location_from_device"), expand=True)])]  # fmt: skip
    else:
        location = [
            ft.Row(
                [
                    ft.Icon(ft.Icons.LOCATION_DISABLED, color=ft.Colors.BROWN_800),
                    ft.Text(t("location_fixed_point"), expand=True),
                ]
            ),
            ft.TextButton(
                t("use_my_location"),
                icon=ft.Icons.MY_LOCATION,
                height=BIG,
                on_click=shell.act(partial(_locate, shell, model)),
            ),
        ]
    controls.append(ft.Column(location, key="location", spacing=0))
    for hospital in model.hospitals:

        async def toggle(_: Any, hospital_id: int = hospital.hospital_id) -> None:
            model.toggle(hospital_id)
            shell.render()

        distance = f"{hospital.km:.1f} km" if hospital.km is not None else "— km"
        details = f"{distance} · {t('board_' + hospital.best)}"
        asked = hospital.hospital_id in model.requests
        # The name wraps beside the box on a narrow phone; the box carries the whole line as its name.
        controls.append(
            ft.Row(
                [
                    ft.Checkbox(
                        value=hospital.hospital_id in model.selected or asked,
                        disabled=asked,
                        on_change=toggle,
                        semantics_label=f"{hospital.name} · {details}",
                    ),
                    ft.Column(
                        [
                            ft.Text(hospital.name, size=16, weight=ft.FontWeight.W_500),
                            ft.Text(details, color=MUTED),
                        ],
                        spacing=0,
                        expand=True,
                    ),
                ],
                vertical_alignment=ft.CrossAxisAlignment.CENTER,
            )
        )

    async def send(_: Any) -> None:
        if model.sending:  # a second tap while the first is out: nothing more is sent
            return
        model.sending = True
        shell.render()
        try:
            await model.send()
        finally:
            model.sending = False
            shell.render()

    async def attach_photo() -> None:
        picker = ft.FilePicker()
        shell.page.services.append(picker)
        files = await picker.pick_files(file_type=ft.FilePickerFileType.IMAGE, with_data=True)
        for picked in files or []:
            if picked.bytes:
                await model.attach(picked.name, bytes(picked.bytes))

    controls += [
        ft.Button(
            t("sending") if model.sending else t("send_to_selected"),
            key="send",  # matched by key, not place, when a redraw adds or removes something above it
            icon=ft.Icons.HOURGLASS_TOP if model.sending else ft.Icons.SEND,
            height=BIG,
            disabled=model.sending or model.destination is not None,
            on_click=send,
        ),
        ft.Button(t("attach_photo"), icon=ft.Icons.PHOTO_CAMERA, height=BIG, on_click=shell.act(attach_photo)),
    ]
    if model.photos_sent or model.photos_pending:
        controls.append(
            ft.Text(f"{t('photos')}: {len(model.photos_sent)} {t('sent')} · {len(model.photos_pending)} {t('queued')}")
        )
    return controls


def _answers(shell: Shell, model: ParamedicModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("answers"))]
    for hospital_id, request in sorted(model.requests.items()):
        status = t(request.status)
        if request.status == "declined" and request.reason:
            status += f" ({t(request.reason)})"
        lines: list[ft.Control] = [
            ft.Text(model.hospital_name(hospital_id), size=16, weight=ft.FontWeight.W_500),
            ft.Text(status, color=STATUS_COLORS.get(request.status)),
        ]
        if request.status == "accepted" and model.destination is None:
            lines.append(
                ft.Button(t("confirm_destination"), height=BIG, on_click=shell.act(partial(model.confirm, hospital_id)))
            )
        controls.append(ft.Container(ft.Column(lines, spacing=4), padding=ft.Padding.symmetric(vertical=4)))
    return controls
