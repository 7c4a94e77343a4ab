"""The facility staff's home: which facility, then one of four desks — the day's schedule with the
counter's actions (payment, reduction, no-show, cancel on behalf) and the CSV export; the resources
(edit, close with an explicit choice about future bookings, reopen); closures (休館日・メンテナンス);
and lotteries (create, demand per slot, draw and publish, the public record to verify).

Whatever cannot be taken back (cancel, close, lift, draw) asks first in a dialog."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import flet as ft

from mobile.state.facility import LIVE, SECTIONS, FacilityModel, FormErrors
from mobile.state.i18n import Translator
from mobile.views.staff_widgets import day_label, nav_button
from mobile.views.widgets import MUTED, TARGET, Shell, ask, error_line, heading, local_time, said_apart
from schema.facilities import Closure, Resource, ScheduleEntry
from schema.lottery import LotteryOverview
from schema.time import TOKYO

PAYMENT_COLORS = {"due": ft.Colors.RED_800, "paid": ft.Colors.GREEN_800, "refund_due": ft.Colors.BROWN_700}
CLOSED = ft.Colors.RED_800
CLOSED_BACKGROUND = ft.Colors.RED_50
FIELD = 180  # a text field's width: four to a row at 800 px


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
    controls += [
        ft.Row(
            [
                (ft.Button if facility.id == model.facility_id else ft.OutlinedButton)(
                    facility.name, height=TARGET, on_click=shell.act(partial(model.choose, facility.id))
                )
                for facility in model.facilities
            ],
            wrap=True,
        ),
        ft.Row(
            [
                (ft.FilledTonalButton if section == model.section else ft.TextButton)(
                    t("section_" + section), height=TARGET, on_click=shell.act(partial(model.show, section))
                )
                for section in SECTIONS
            ],
            wrap=True,
        ),
        ft.Divider(),
    ]
    if model.notice:
        controls.append(ft.Text(t(model.notice), color=ft.Colors.GREEN_800, weight=ft.FontWeight.BOLD))
    controls += error_line(t, model.error)
    body = {"schedule": schedule, "resources": resources, "closures": closures, "lotteries": lotteries}
    return controls + body[model.section](shell, model)


def form_errors(t: Translator, errors: FormErrors) -> list[ft.Control]:
    """What is wrong with a form, one line per field, in the chosen language. Each line is its own
    semantics node, so a screen reader says it apart instead of folding it into the form's name."""
    return [
        ft.Semantics(container=True, content=ft.Text(f"{t(label)}: {t(message)}", color=ft.Colors.RED_800))
        for label, message in errors
    ]


def text_field(label: str, value: str, target: object, name: str, width: int = FIELD) -> ft.TextField:
    """A field bound to its form (or a dialog's dict): every keystroke lands there, so a redraw keeps it."""

    def keep(event: Any) -> None:
        if isinstance(target, dict):
            target[name] = event.control.value or ""
        else:
            setattr(target, name, event.control.value or "")

    return ft.TextField(label=label, value=value, width=width, on_change=keep)


def when(instant: datetime) -> str:
    """YYYY-MM-DD HH:MM in Japan time."""
    return f"{instant.astimezone(TOKYO):%Y-%m-%d} {local_time(instant)}"


def period(start: datetime, end: datetime) -> str:
    """A closure's time: whole days as days (the last one included), otherwise to the minute."""
    first, after = start.astimezone(TOKYO), end.astimezone(TOKYO)
    if first.time() == after.time() == datetime.min.time():
        last = after - timedelta(days=1)
        return day_label(first.date()) if last.date() == first.date() else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"
    return f"{when(start)} – {when(end)}"


# -- the schedule --------------------------------------------------------------------------------


def schedule(shell: Shell, model: FacilityModel) -> list[ft.Control]:
    t = shell.t

    async def export() -> None:
        if (csv := await model.schedule_csv()) is not None:
            picker = ft.FilePicker()
            shell.page.services.append(picker)
            await picker.save_file(file_name=model.csv_name, src_bytes=csv)

    controls: list[ft.Control] = [
        heading(t("schedule")),
        ft.Row(
            [
                nav_button(ft.Icons.CHEVRON_LEFT, t("previous_day"), shell.act(partial(model.shift_day, -1))),
                ft.Text(day_label(model.day), size=20),
                nav_button(ft.Icons.CHEVRON_RIGHT, t("next_day"), shell.act(partial(model.shift_day, 1))),
                nav_button(ft.Icons.REFRESH, t("refresh"), shell.act(model.resync)),
                *([nav_button(ft.Icons.DOWNLOAD, t("export_csv"), shell.act(export))] if model.facility else []),
            ],
            wrap=True,
        ),
    ]
    for closure in model.day_closures:
        scope = model.resource_name(closure.resource_id) or t("whole_facility")
        controls.append(
            ft.Container(
                ft.Column(
                    [
                        ft.Text(f"{t('closed_day')} · {scope}", color=CLOSED, size=20, weight=ft.FontWeight.BOLD),
                        ft.Text(f"{period(closure.start, closure.end)} · {closure.reason}", color=CLOSED),
                    ],
                    tight=True,
                ),
                bgcolor=CLOSED_BACKGROUND,
                border=ft.Border.all(2, CLOSED),
                border_radius=8,
                padding=12,
            )
        )
    if not model.schedule:
        controls.append(ft.Text(t("no_bookings")))
    return controls + [booking(shell, model, entry) for entry in model.schedule]


def booking(shell: Shell, model: FacilityModel, entry: ScheduleEntry) -> ft.Control:
    t = shell.t
    span = f"{local_time(entry.start)}–{local_time(entry.end)}"
    who = f"{span} {entry.booker_name}"
    payment = entry.payment
    lines: list[ft.Control] = [
        ft.Text(f"{span} · {entry.resource_name}", size=20, weight=ft.FontWeight.BOLD),
        ft.Text(f"{entry.booker_name} · {t(entry.status)} · ¥{entry.fee:,}", size=18),
        ft.Text(
            f"{t('payment')}: {t('payment_' + payment)}",
            color=PAYMENT_COLORS.get(payment, MUTED),
            weight=ft.FontWeight.BOLD,
        ),
    ]
    if entry.reduction:
        approved = t("reduction_approved") if entry.reduction_approved_at else t("reduction_pending")
        lines.append(ft.Text(f"{t('reduction')}: {entry.reduction} · {approved}"))
    if entry.no_show_at:
        lines.append(ft.Text(t("no_show"), color=ft.Colors.RED_800))
    if entry.end_reason:
        lines.append(ft.Text(entry.end_reason, color=MUTED))
    # Its own semantics node: otherwise Flutter folds these lines into the buttons' names.
    details = ft.Semantics(container=True, content=ft.Column(lines))
    actions: list[ft.Control] = []
    live = entry.status in LIVE
    if live and payment == "due":
        actions.append(
            ft.Button(
                f"{t('record_payment')}: {who}",
                height=TARGET,
                on_click=shell.act(partial(model.record_payment, entry.id)),
            )
        )
    if live and entry.reduction and not entry.reduction_approved_at:
        actions.append(
            ft.Button(
                f"{t('approve_reduction')}: {who}",
                height=TARGET,
                on_click=shell.act(partial(model.approve_reduction, entry.id)),
            )
        )
    started = entry.start <= datetime.now().astimezone()
    if entry.status == "confirmed" and started and not entry.no_show_at:
        actions.append(
            ft.OutlinedButton(
                f"{t('no_show')}: {who}", height=TARGET, on_click=shell.act(partial(model.no_show, entry.id))
            )
        )
    if live:

        async def ask_to_cancel(_: Any, entry: ScheduleEntry = entry) -> None:
            typed = {"reason": ""}
            ask(
                shell,
                t("cancel_on_behalf"),
                [
                    ft.Text(f"{when(entry.start)} · {entry.resource_name} · {entry.booker_name}"),
                    ft.Text(t("booker_told_reason"), color=MUTED),
                    text_field(t("cancel_reason"), "", typed, "reason", width=380),
                ],
                t("cancel_booking"),
                lambda: model.cancel(entry.id, typed["reason"]),
            )

        actions.append(ft.OutlinedButton(f"{t('cancel_on_behalf')}: {who}", height=TARGET, on_click=ask_to_cancel))
    rows: list[ft.Control] = [details]
    if actions:
        rows.append(ft.Row(actions, wrap=True))
    return ft.Card(ft.Container(ft.Column(rows), padding=12))


# -- resources -----------------------------------------------------------------------------------


def resources(shell: Shell, model: FacilityModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("section_resources"))]
    if not model.resources:
        controls.append(ft.Text(t("no_items")))
    for resource in model.resources:
        if model.editing is not None and model.editing.resource_id == resource.id:
            controls.append(resource_form(shell, model))
        else:
            controls.append(resource_card(shell, model, resource))
    return controls


def resource_card(shell: Shell, model: FacilityModel, resource: Resource) -> ft.Control:
    t = shell.t
    name = resource.name
    hours = f"{resource.opens_at:%H:%M}–{resource.closes_at:%H:%M} · {resource.unit_minutes}{t('minutes')}"
    fees = f"{t('fee_resident')}: ¥{resource.fee_per_unit:,}"
    if resource.non_resident_fee_per_unit is not None:
        fees += f" · {t('fee_non_resident')}: ¥{resource.non_resident_fee_per_unit:,}"
    lines: list[ft.Control] = [
        ft.Text(name, size=20, weight=ft.FontWeight.BOLD),
        ft.Text(f"{t('hours')}: {hours}"),
        ft.Text(fees),
    ]
    cap = resource.max_bookings_per_month
    lines.append(ft.Text(f"{t('monthly_cap')}: {cap if cap is not None else t('no_limit')}"))
    horizons = [
        f"{t(label)} {months}{t('months_ahead')}" if months is not None else f"{t(label)} {t('no_limit')}"
        for label, months in (
            ("residents", resource.resident_horizon_months),
            ("non_residents", resource.non_resident_horizon_months),
        )
    ]
    lines.append(ft.Text(f"{t('booking_horizon')}: {' · '.join(horizons)}"))
    actions: list[ft.Control] = [
        ft.Button(f"{t('edit')}: {name}", height=TARGET, on_click=shell.act(partial(model.edit, resource)))
    ]
    if resource.closed_at is not None:
        lines.append(
            ft.Text(
                f"{t('resource_closed')} · {resource.closed_reason or ''}",
                color=CLOSED,
                weight=ft.FontWeight.BOLD,
            )
        )

        async def ask_to_reopen(_: Any) -> None:
            ask(
                shell,
                f"{t('reopen')}: {name}",
                [ft.Text(t("reopen_explained"))],
                t("reopen"),
                partial(model.reopen_resource, resource.id),
            )

        actions.append(ft.OutlinedButton(f"{t('reopen')}: {name}", height=TARGET, on_click=ask_to_reopen))
    else:

        async def ask_to_close(_: Any) -> None:
            choice: dict[str, Any] = {"reason": "", "cancel": None}

            def chose(event: Any) -> None:
                choice["cancel"] = event.control.value == "cancel"

            ask(
                shell,
                f"{t('close_resource')}: {name}",
                [
                    text_field(t("close_reason"), "", choice, "reason", width=380),
                    ft.Text(t("future_bookings")),
                    ft.RadioGroup(
                        ft.Column(
                            [
                                ft.Radio(value="cancel", label=t("cancel_future_bookings"), height=TARGET),
                                ft.Radio(value="refuse", label=t("refuse_if_booked"), height=TARGET),
                            ],
                            tight=True,
                        ),
                        on_change=chose,
                    ),
                ],
                t("close_resource"),
                lambda: model.close_resource(resource.id, choice["reason"], choice["cancel"]),
            )

        actions.append(ft.OutlinedButton(f"{t('close_resource')}: {name}", height=TARGET, on_click=ask_to_close))
    return ft.Card(
        ft.Container(
            ft.Column([said_apart(lines), ft.Row(actions, wrap=True)]),
            padding=12,
        )
    )


def resource_form(shell: Shell, model: FacilityModel) -> ft.Control:
    t = shell.t
    form = model.editing
    assert form is not None
    fields: list[ft.Control] = [
        text_field(t("resource_name"), form.name, form, "name", width=2 * FIELD),
        text_field(t("opens_at"), form.opens_at, form, "opens_at"),
        text_field(t("closes_at"), form.closes_at, form, "closes_at"),
        text_field(t("fee_per_unit"), form.fee_per_unit, form, "fee_per_unit"),
        text_field(t("non_resident_fee"), form.non_resident_fee, form, "non_resident_fee"),
        text_field(t("monthly_cap"), form.monthly_cap, form, "monthly_cap"),
        text_field(t("resident_horizon"), form.resident_horizon, form, "resident_horizon", width=240),
        text_field(t("non_resident_horizon"), form.non_resident_horizon, form, "non_resident_horizon", width=240),
    ]
    return ft.Card(
        ft.Container(
            ft.Column(
                [
                    heading(f"{t('edit')}: {form.name}"),
                    ft.Row(fields, wrap=True),
                    ft.Text(t("blank_means_none"), color=MUTED),
                    *form_errors(t, model.form_errors),
                    ft.Row(
                        [
                            ft.Button(t("save"), height=TARGET, on_click=shell.act(model.save_resource)),
                            ft.TextButton(t("back"), height=TARGET, on_click=shell.act(model.stop_editing)),
                        ],
                        wrap=True,
                    ),
                ]
            ),
            padding=12,
        )
    )


# -- closures ------------------------------------------------------------------------------------


def closures(shell: Shell, model: FacilityModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("section_closures"))]
    form = model.closure_form
    if form is None and model.facility is not None:
        controls.append(
            ft.Button(t("add_closure"), icon=ft.Icons.ADD, height=TARGET, on_click=shell.act(model.new_closure))
        )
    elif form is not None:

        def scope(event: Any) -> None:
            form.resource_id = int(event.control.value) if event.control.value else None

        def cancels(event: Any) -> None:
            form.cancel_bookings = bool(event.control.value)

        controls.append(
            ft.Card(
                ft.Container(
                    ft.Column(
                        [
                            heading(t("add_closure")),
                            ft.RadioGroup(
                                ft.Row(
                                    [
                                        ft.Radio(value="", label=t("whole_facility"), height=TARGET),
                                        *(
                                            ft.Radio(value=str(r.id), label=r.name, height=TARGET)
                                            for r in model.resources
                                        ),
                                    ],
                                    wrap=True,
                                ),
                                value=str(form.resource_id or ""),
                                on_change=scope,
                            ),
                            ft.Row(
                                [
                                    text_field(t("first_day"), form.first_day, form, "first_day"),
                                    text_field(t("last_day"), form.last_day, form, "last_day"),
                                    text_field(t("closure_reason"), form.reason, form, "reason", width=2 * FIELD),
                                ],
                                wrap=True,
                            ),
                            ft.Checkbox(
                                label=t("cancel_bookings_in_closure"),
                                value=form.cancel_bookings,
                                on_change=cancels,
                                height=TARGET,
                            ),
                            *form_errors(t, model.form_errors),
                            ft.Row(
                                [
                                    ft.Button(t("add"), height=TARGET, on_click=shell.act(model.add_closure)),
                                    ft.TextButton(
                                        t("back"), height=TARGET, on_click=shell.act(model.drop_closure_form)
                                    ),
                                ],
                                wrap=True,
                            ),
                        ]
                    ),
                    padding=12,
                )
            )
        )
    if not model.closures:
        controls.append(ft.Text(t("no_closures")))
    for closure in model.closures:
        scope_name = model.resource_name(closure.resource_id) or t("whole_facility")
        label = f"{period(closure.start, closure.end)} · {scope_name}"
        lines: list[ft.Control] = [
            ft.Text(label, size=18, weight=ft.FontWeight.BOLD),
            ft.Text(closure.reason),
        ]
        actions: list[ft.Control] = []
        if closure.lifted_at:
            lines.append(ft.Text(t("closure_lifted"), color=MUTED))
        else:

            async def ask_to_lift(_: Any, closure: Closure = closure, label: str = label) -> None:
                ask(
                    shell,
                    t("lift_closure"),
                    [ft.Text(label), ft.Text(closure.reason), ft.Text(t("lift_explained"), color=MUTED)],
                    t("lift_closure"),
                    partial(model.lift_closure, closure.id),
                )

            actions.append(ft.OutlinedButton(f"{t('lift_closure')}: {label}", height=TARGET, on_click=ask_to_lift))
        controls.append(
            ft.Card(
                ft.Container(ft.Column([ft.Semantics(container=True, content=ft.Column(lines)), *actions]), padding=12)
            )
        )
    return controls


# -- lotteries -----------------------------------------------------------------------------------


def lotteries(shell: Shell, model: FacilityModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [
        ft.Row(
            [
                heading(t("section_lotteries")),
                nav_button(ft.Icons.REFRESH, t("refresh"), shell.act(model.resync)),
            ],
            wrap=True,
        )
    ]
    if model.lottery_form is None:
        controls.append(
            ft.Button(t("new_lottery"), icon=ft.Icons.ADD, height=TARGET, on_click=shell.act(model.new_lottery))
        )
    else:
        controls.append(lottery_form(shell, model))
    if not model.lotteries:
        controls.append(ft.Text(t("no_items")))
    controls += [lottery_card(shell, model, lottery) for lottery in model.lotteries]
    return controls


def lottery_form(shell: Shell, model: FacilityModel) -> ft.Control:
    t = shell.t
    form = model.lottery_form
    assert form is not None

    def resource(event: Any) -> None:
        form.resource_id = int(event.control.value) if event.control.value else None

    return ft.Card(
        ft.Container(
            ft.Column(
                [
                    heading(t("new_lottery")),
                    ft.RadioGroup(
                        ft.Row(
                            [
                                ft.Radio(value=str(r.id), label=r.name, height=TARGET)
                                for r in model.resources
                                if r.closed_at is None
                            ],
                            wrap=True,
                        ),
                        value=str(form.resource_id or ""),
                        on_change=resource,
                    ),
                    ft.Row(
                        [
                            text_field(t("lottery_month"), form.month, form, "month"),
                            text_field(t("lottery_closes"), form.closes_at, form, "closes_at", width=220),
                            text_field(t("per_user_cap"), form.per_user_cap, form, "per_user_cap"),
                        ],
                        wrap=True,
                    ),
                    ft.Text(t("lottery_opens_now"), color=MUTED),
                    *form_errors(t, model.form_errors),
                    ft.Row(
                        [
                            ft.Button(t("create_lottery"), height=TARGET, on_click=shell.act(model.create_lottery)),
                            ft.TextButton(t("back"), height=TARGET, on_click=shell.act(model.drop_lottery_form)),
                        ],
                        wrap=True,
                    ),
                ]
            ),
            padding=12,
        )
    )


def lottery_card(shell: Shell, model: FacilityModel, lottery: LotteryOverview) -> ft.Control:
    t = shell.t
    number = f"#{lottery.id}"
    names = " · ".join(model.resource_name(r) or f"#{r}" for r in lottery.resource_ids)
    state = lottery.state
    lines: list[ft.Control] = [
        ft.Text(
            f"{t('section_lotteries')} {number} · {lottery.month:%Y-%m} · {names}", size=20, weight=ft.FontWeight.BOLD
        ),
        ft.Text(f"{t('lottery_state')}: {t('lottery_' + state)}", weight=ft.FontWeight.BOLD),
        ft.Text(f"{t('applications_window')}: {when(lottery.opens_at)} – {when(lottery.closes_at)}"),
        ft.Text(f"{t('applications_count')}: {lottery.applications} · {t('per_user_cap')}: {lottery.per_user_cap}"),
    ]
    if lottery.slots:
        lines.append(ft.Text(t("demand_per_slot"), weight=ft.FontWeight.BOLD))
    for slot in lottery.slots:
        start = slot.start.astimezone(TOKYO)
        lines.append(
            ft.Text(
                f"{day_label(start.date())} {local_time(slot.start)}–{local_time(slot.end)}"
                f" · {model.resource_name(slot.resource_id) or ''}: {slot.applications}{t('count_suffix')}"
                f" ({t('first_choice')} {slot.first_choice})"
            )
        )
    if lottery.cancel_reason:
        lines.append(ft.Text(f"{t('cancel_reason')}: {lottery.cancel_reason}", color=MUTED))
    lines.append(ft.Text(f"{t('seed_commitment')}: {lottery.seed_commitment[:16]}…", color=MUTED, size=12))
    actions: list[ft.Control] = []
    if state == "closed":

        async def ask_to_draw(_: Any) -> None:
            ask(
                shell,
                f"{t('draw_and_publish')}: {number}",
                [
                    ft.Text(f"{lottery.month:%Y-%m} · {names} · {t('applications_count')}: {lottery.applications}"),
                    ft.Text(t("draw_explained")),
                ],
                t("draw_and_publish"),
                partial(model.draw, lottery.id),
            )

        actions.append(ft.Button(f"{t('draw_and_publish')}: {number}", height=TARGET, on_click=ask_to_draw))
    if state in ("scheduled", "open"):

        async def ask_to_cancel(_: Any) -> None:
            typed = {"reason": ""}
            ask(
                shell,
                f"{t('cancel_lottery')}: {number}",
                [
                    ft.Text(t("cancel_lottery_explained"), color=MUTED),
                    text_field(t("cancel_reason"), "", typed, "reason", width=380),
                ],
                t("cancel_lottery"),
                lambda: model.cancel_lottery(lottery.id, typed["reason"]),
            )

        actions.append(ft.OutlinedButton(f"{t('cancel_lottery')}: {number}", height=TARGET, on_click=ask_to_cancel))
    if state == "drawn":
        lines.append(ft.Text(t("results_published"), color=ft.Colors.GREEN_800, weight=ft.FontWeight.BOLD))
        lines.append(ft.Text(f"{t('verify_with')}: musubi lottery verify {lottery.id}", color=MUTED))
        actions.append(
            ft.TextButton(
                f"{t('verification_record')}: {number}",
                icon=ft.Icons.OPEN_IN_NEW,
                height=TARGET,
                url=model.verification_url(lottery.id),
            )
        )
    rows: list[ft.Control] = [said_apart(lines)]
    if actions:
        rows.append(ft.Row(actions, wrap=True))
    return ft.Card(ft.Container(ft.Column(rows), padding=12))
