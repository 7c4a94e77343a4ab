"""The ER desk's home: the alert banner, the acceptance board, the inbox, the opened case."""

from __future__ import annotations

from functools import partial

import flet as ft

from mobile.state.er import DECLINE_REASONS, ErModel
from mobile.views.widgets import BIG, STATUS_COLORS, TARGET, Shell, error_line, heading, local_time
from schema.ems import Case

WATCHDOG_SECONDS = 30.0  # refetch the inbox this often, whatever the live stream says


async def open_home(shell: Shell) -> ErModel:
    model = ErModel(shell.session.api)
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
    hospital_id = shell.session.organization("hospital")
    if hospital_id is not None:
        controls.append(
            ft.Row(
                [ft.Text(f"{t('board')} ({t(model.department)}): {t(model.board_status or 'unknown')}")]
                + [
                    ft.OutlinedButton(
                        t(status), height=TARGET, on_click=shell.act(partial(model.set_board, hospital_id, status))
                    )
                    for status in ("accepting", "limited", "not_accepting")
                ],
                wrap=True,
            )
        )
    if model.case is not None:
        controls.append(case_card(shell, model, model.case))
    controls.append(heading(t("inbox")))
    if not model.inbox:
        controls.append(ft.Text(t("no_items")))
    for item in model.inbox:
        summary = (
            f"#{item.case_id} · {item.estimated_age if item.estimated_age is not None else '-'} · "
            f"{t(item.sex or 'unknown')} · {item.chief_complaint or '-'} · JCS {item.jcs or '-'} · "
            f"ETA {item.eta_minutes if item.eta_minutes is not None else '-'}"
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

    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    for vitals in case.vitals:
        lines.append(
            ft.Text(
                f"{local_time(vitals.taken_at)} BP {shown(vitals.sbp)}/{shown(vitals.dbp)} · HR {shown(vitals.hr)} · "
                f"RR {shown(vitals.rr)} · SpO2 {shown(vitals.spo2)} · {shown(vitals.temp)}℃"
            )
        )
    lines.append(ft.TextButton(t("close"), height=TARGET, on_click=shell.act(close)))
    return ft.Card(ft.Container(ft.Column(lines), padding=12), bgcolor=ft.Colors.BLUE_50)
