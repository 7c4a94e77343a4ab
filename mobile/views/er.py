"""The ER desk's home: the alert banner, the acceptance board, the patients on the way, the inbox,
the opened case."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import partial
from typing import Any

import flet as ft

from mobile.state.er import DECLINE_REASONS, ErModel
from mobile.state.i18n import Translator
from mobile.views.widgets import BIG, MUTED, STATUS_COLORS, TARGET, Shell, error_line, heading, local_time
from schema.ems import Case, IncomingCase, VitalsRecord

WATCHDOG_SECONDS = 30.0  # refetch the inbox this often, whatever the live stream says
THUMBNAIL = 96


async def open_home(shell: Shell) -> ErModel:
    model = ErModel(shell.session.api, hospital_id=shell.session.organization("hospital"))
    await model.load()
    return model


def view(shell: Shell, model: ErModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = []
    if model.alert:

        async def acknowledge() -> None:
            model.acknowledge()

        controls.append(
            ft.Container(
                ft.Row(
                    [
                        ft.Icon(ft.Icons.NOTIFICATIONS_ACTIVE, color=ft.Colors.WHITE),
                        ft.Text(t("new_request"), color=ft.Colors.WHITE, size=18, expand=True),
                        ft.TextButton(
                            content=ft.Text("OK", color=ft.Colors.WHITE, weight=ft.FontWeight.BOLD),
                            tooltip=t("acknowledge"),
                            height=TARGET,
                            on_click=shell.act(acknowledge),
                        ),
                    ]
                ),
                bgcolor=ft.Colors.RED_800,
                padding=12,
                border_radius=8,
            )
        )
    if model.hospital_id is not None:
        controls += board_section(shell, model, model.hospital_id)
    if model.incoming:
        controls.append(heading(t("incoming")))
        controls += [incoming_card(shell, model, patient) for patient in model.incoming]
    if model.case is not None:
        controls.append(case_card(shell, model, model.case))
    controls.append(heading(t("inbox")))
    if not model.inbox:
        controls.append(ft.Text(t("no_items")))
    for item in model.inbox:
        age = f"{item.estimated_age}{t('years_old')}" if item.estimated_age is not None else "-"
        eta = f"{item.eta_minutes}{t('minutes')}" if item.eta_minutes is not None else "-"
        summary = (
            f"#{item.case_id} · {age} · {t(item.sex or 'unknown')} · {item.chief_complaint or '-'} · "
            f"JCS {item.jcs or '-'} · {t('eta')} {eta}"
        )
        buttons: list[ft.Control] = [
            ft.Text(t(item.status), color=STATUS_COLORS.get(item.status)),
            ft.TextButton(t("details"), height=TARGET, on_click=shell.act(partial(model.open_case, item.case_id))),
        ]
        if item.status == "pending":
            buttons.append(
                ft.Button(
                    t("accept"),
                    height=BIG,
                    bgcolor=ft.Colors.GREEN_100,
                    on_click=shell.act(partial(model.answer, item.request_id, True)),
                )
            )
            buttons += [
                ft.OutlinedButton(
                    t(reason), height=TARGET, on_click=shell.act(partial(model.answer, item.request_id, False, reason))
                )
                for reason in DECLINE_REASONS
            ]
        controls.append(
            ft.Card(ft.Container(ft.Column([ft.Text(summary, size=16), ft.Row(buttons, wrap=True)]), padding=12))
        )
    return controls + error_line(t, model.error)


def board_section(shell: Shell, model: ErModel, hospital_id: int) -> list[ft.Control]:
    """Each department's status as the crews see it now, and the three statuses for the chosen one."""
    t = shell.t
    lines: list[ft.Control] = [heading(t("board"))]
    for entry in model.board:
        until = ""
        if entry.until is not None and entry.status != "unknown":  # an expired status has no "until"
            until = f" ({t('until_time').format(time=local_time(entry.until))})"
        lines.append(ft.Text(f"{t('dept_' + entry.department)}: {t('board_' + entry.status)}{until}"))

    async def choose(event: Any) -> None:
        model.department = event.control.value or model.department
        shell.render()

    codes = [d.department for d in model.departments] or [model.department]
    current = model.board_status(model.department)
    lines += [
        ft.Dropdown(
            label=t("department"),
            tooltip=t("department"),
            value=model.department,
            width=240,
            on_select=choose,
            options=[ft.DropdownOption(key=code, text=t("dept_" + code)) for code in codes],
        ),
        ft.Text(
            f"{t('dept_' + model.department)}: {t('board_' + current) if current else t('board_not_set')}",
            weight=ft.FontWeight.BOLD,
        ),
        ft.Row(
            [
                ft.Button(
                    t(status),
                    height=TARGET,
                    bgcolor=ft.Colors.BLUE_100,
                    on_click=shell.act(partial(model.set_board, hospital_id, status)),
                )
                if status == current
                else ft.OutlinedButton(
                    t(status), height=TARGET, on_click=shell.act(partial(model.set_board, hospital_id, status))
                )
                for status in ("accepting", "limited", "not_accepting")
            ],
            wrap=True,
        ),
    ]
    return lines


def eta_text(t: Translator, patient: IncomingCase, now: datetime | None = None) -> str:
    """ "到着予定 14:32 (あと 7 分)": the clock time a nurse plans by, and the minutes left."""
    if patient.eta_at is None:
        return t("eta_unknown")
    left = math.ceil((patient.eta_at - (now or datetime.now(UTC))).total_seconds() / 60)
    when = f"{t('eta')} {local_time(patient.eta_at)}"
    if left < 0:
        return f"{when} ({t('eta_passed')})"
    return f"{when} ({t('eta_in')} {left}{t('minutes')})"


def vitals_text(vitals: VitalsRecord) -> str:
    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    return (
        f"{local_time(vitals.taken_at)} BP {shown(vitals.sbp)}/{shown(vitals.dbp)} · HR {shown(vitals.hr)} · "
        f"RR {shown(vitals.rr)} · SpO2 {shown(vitals.spo2)} · {shown(vitals.temp)}℃"
    )


def incoming_card(shell: Shell, model: ErModel, patient: IncomingCase) -> ft.Control:
    t = shell.t
    gcs = f"E{patient.gcs.e}V{patient.gcs.v}M{patient.gcs.m}" if patient.gcs else "-"
    age = f"{patient.estimated_age}{t('years_old')}" if patient.estimated_age is not None else "-"
    lines: list[ft.Control] = [
        ft.Text(
            f"#{patient.case_id} · {age} · {t(patient.sex or 'unknown')} · {patient.chief_complaint or '-'}",
            size=18,
            weight=ft.FontWeight.BOLD,
        ),
        ft.Text(eta_text(t, patient), size=18, color=ft.Colors.RED_800, weight=ft.FontWeight.BOLD),
        ft.Text(f"{t('department')}: {t('dept_' + patient.department) if patient.department else '-'}"),
        ft.Text(f"JCS {patient.jcs or '-'} · GCS {gcs}"),
        ft.Text(f"{t('allergies')}: {', '.join(patient.allergies) or '-'}"),
        ft.Text(f"{t('medications')}: {', '.join(patient.medications) or '-'}"),
        ft.Text(t("vitals_over_time"), weight=ft.FontWeight.BOLD),
    ]
    lines += [ft.Text(vitals_text(vitals)) for vitals in patient.vitals]  # newest last
    thumbnails: list[ft.Control] = []
    for number, photo in enumerate(patient.attachments, start=1):
        content = model.photos.get(photo.id)
        if content is None:
            continue

        async def enlarge(_: Any, content: bytes = content, number: int = number) -> None:
            shell.page.show_dialog(photo_dialog(shell, f"#{patient.case_id} {t('photos')} {number}", content))

        thumbnails.append(
            ft.Semantics(
                content=ft.Container(
                    ft.Image(src=content, width=THUMBNAIL, height=THUMBNAIL, fit=ft.BoxFit.COVER),
                    on_click=enlarge,
                    border_radius=6,
                ),
                label=f"{t('enlarge_photo')} {number}",
                button=True,
            )
        )
    if thumbnails:
        lines += [ft.Text(t("photos"), weight=ft.FontWeight.BOLD), ft.Row(thumbnails, wrap=True)]
    lines.append(ft.Text(f"{t('vitals_set')} {len(patient.vitals)} · {t('photos')} {len(thumbnails)}", color=MUTED))
    return ft.Card(ft.Container(ft.Column(lines, spacing=6), padding=12), bgcolor=ft.Colors.AMBER_50)


def photo_dialog(shell: Shell, title: str, content: bytes) -> ft.AlertDialog:
    def close(_: Any) -> None:
        shell.page.pop_dialog()

    return ft.AlertDialog(
        title=ft.Text(title),
        content=ft.Image(src=content, width=560, height=560, fit=ft.BoxFit.CONTAIN),
        actions=[ft.TextButton(shell.t("close"), height=TARGET, on_click=close)],
    )


def case_card(shell: Shell, model: ErModel, case: Case) -> ft.Control:
    t = shell.t

    async def close() -> None:
        model.close_case()

    gcs = f"E{case.gcs.e}V{case.gcs.v}M{case.gcs.m}" if case.gcs else "-"
    lines: list[ft.Control] = [
        ft.Text(f"#{case.id} · {case.estimated_age} · {t(case.sex or 'unknown')}", size=18),
        ft.Text(f"{t('complaint')}: {case.chief_complaint or '-'}"),
        ft.Text(f"JCS {case.jcs or '-'} · GCS {gcs}"),
        ft.Text(f"{t('allergies')}: {', '.join(case.allergies) or '-'}"),
        ft.Text(f"{t('medications')}: {', '.join(case.medications) or '-'}"),
    ]
    lines += [ft.Text(vitals_text(vitals)) for vitals in case.vitals]
    lines.append(ft.TextButton(t("close"), height=TARGET, on_click=shell.act(close)))
    return ft.Card(ft.Container(ft.Column(lines), padding=12), bgcolor=ft.Colors.BLUE_50)
