"""The facility staff's home: which facility, its resources, and the day's schedule with the
counter's actions (payment, reduction, no-show, cancel on behalf with a reason)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import flet as ft

from mobile.state.facility import LIVE, FacilityModel
from mobile.views.staff_widgets import day_label, nav_button
from mobile.views.widgets import MUTED, TARGET, Shell, error_line, heading, local_time

PAYMENT_COLORS = {"due": ft.Colors.RED_800, "paid": ft.Colors.GREEN_800, "refund_due": ft.Colors.BROWN_700}


async def open_home(shell: Shell) -> FacilityModel:
    organization_id = shell.session.organization("facility_operator") or shell.session.organization("municipality")
    assert organization_id is not None  # the home is only chosen for these members
    model = FacilityModel(shell.session.api, organization_id)
    await model.resync()
    return model


def view(shell: Shell, model: FacilityModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("my_facilities"))]
    if not model.facilities:
        controls.append(ft.Text(t("no_items")))
    controls.append(
        ft.Row(
            [
                (ft.Button if facility["id"] == model.facility_id else ft.OutlinedButton)(
                    facility["name"], height=TARGET, on_click=shell.act(partial(model.choose, facility["id"]))
                )
                for facility in model.facilities
            ],
            wrap=True,
        )
    )
    facility = model.facility
    if facility is not None:
        for resource in facility["resources"]:
            hours = f"{resource['opensAt'][:5]}–{resource['closesAt'][:5]}"
            line = f"{resource['name']} · {hours} · ¥{resource['feePerUnit']}/{resource['unitMinutes']}{t('minutes')}"
            if resource.get("closedAt"):
                line += f" · {t('resource_closed')}: {resource.get('closedReason') or ''}"
            controls.append(ft.Text(line, color=MUTED))
    controls += [
        heading(t("schedule")),
        ft.Row(
            [
                nav_button(ft.Icons.CHEVRON_LEFT, t("previous_day"), shell.act(partial(model.shift_day, -1))),
                ft.Text(day_label(model.day), size=20),
                nav_button(ft.Icons.CHEVRON_RIGHT, t("next_day"), shell.act(partial(model.shift_day, 1))),
                nav_button(ft.Icons.REFRESH, t("refresh"), shell.act(model.resync)),
            ],
            wrap=True,
        ),
    ]
    if not model.schedule:
        controls.append(ft.Text(t("no_bookings")))
    controls += [booking(shell, model, entry) for entry in model.schedule]
    return controls + error_line(t, model.error)


def booking(shell: Shell, model: FacilityModel, entry: dict[str, Any]) -> ft.Control:
    t = shell.t
    when = f"{local_time(entry['start'])}–{local_time(entry['end'])}"
    who = f"{when} {entry['bookerName']}"
    payment = entry["payment"]
    lines: list[ft.Control] = [
        ft.Text(f"{when} · {entry['resourceName']}", size=20, weight=ft.FontWeight.BOLD),
        ft.Text(f"{entry['bookerName']} · {t(entry['status'])} · ¥{entry['fee']}", size=18),
        ft.Text(
            f"{t('payment')}: {t('payment_' + payment)}",
            color=PAYMENT_COLORS.get(payment, MUTED),
            weight=ft.FontWeight.BOLD,
        ),
    ]
    if entry["reduction"]:
        approved = t("reduction_approved") if entry["reductionApprovedAt"] else t("reduction_pending")
        lines.append(ft.Text(f"{t('reduction')}: {entry['reduction']} · {approved}"))
    if entry["noShowAt"]:
        lines.append(ft.Text(t("no_show"), color=ft.Colors.RED_800))
    if entry["endReason"]:
        lines.append(ft.Text(entry["endReason"], color=MUTED))
    # Its own semantics node: otherwise Flutter folds these lines into the reason field's name.
    details = ft.Semantics(container=True, content=ft.Column(lines))
    actions: list[ft.Control] = []
    live = entry["status"] in LIVE
    if live and payment == "due":
        actions.append(
            ft.Button(
                f"{t('record_payment')}: {who}",
                height=TARGET,
                on_click=shell.act(partial(model.record_payment, entry["id"])),
            )
        )
    if live and entry["reduction"] and not entry["reductionApprovedAt"]:
        actions.append(
            ft.Button(
                f"{t('approve_reduction')}: {who}",
                height=TARGET,
                on_click=shell.act(partial(model.approve_reduction, entry["id"])),
            )
        )
    started = datetime.fromisoformat(entry["start"]) <= datetime.now().astimezone()
    if entry["status"] == "confirmed" and started and not entry["noShowAt"]:
        actions.append(
            ft.OutlinedButton(
                f"{t('no_show')}: {who}", height=TARGET, on_click=shell.act(partial(model.no_show, entry["id"]))
            )
        )
    if live:
        reason = ft.TextField(label=t("cancel_reason"), width=220)

        async def cancel(booking_id: int = entry["id"], reason: ft.TextField = reason) -> None:
            await model.cancel(booking_id, reason.value or "")

        actions += [
            reason,
            ft.OutlinedButton(f"{t('cancel_on_behalf')}: {who}", height=TARGET, on_click=shell.act(cancel)),
        ]
    rows: list[ft.Control] = [details]
    if actions:
        rows.append(ft.Row(actions, wrap=True))
    return ft.Card(ft.Container(ft.Column(rows), padding=12))
