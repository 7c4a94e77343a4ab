"""The caseworker's and the shelter's home: bed board, intake requests, answers, placement."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from mobile.state.i18n import LABELS, Translator
from mobile.state.intake import DECLINE_REASONS, INTAKE_SEXES, NEEDS, URGENCIES, InCare, IntakeModel
from mobile.views.widgets import BIG, MUTED, TARGET, Shell, error_line, heading, icon_button, local_time, stepper
from schema.shelters import IntakeRequest


async def open_home(shell: Shell) -> IntakeModel:
    if shell.session.home == "caseworker":
        model = IntakeModel(shell.session.api)
    else:
        model = IntakeModel(shell.session.api, role="shelter", shelter_id=shell.session.organization("shelter"))
    await model.load()
    return model


def category_name(t: Translator, category: str) -> str:
    """ "0-5:any" → "0〜5歳 共用" / "0–5 years, any sex"."""
    if ":" not in category:
        return t(f"cat_{category}") if f"cat_{category}" in LABELS else category
    band, sex = category.split(":", 1)
    low, _, high = band.partition("-")
    if t.locale == "ja":
        return f"{low}〜{high}{t('years_old')} {t(f'cat_{sex}')}"
    return f"{low}–{high}{t('years_old')}, {t(f'cat_{sex}')}"


def word(t: Translator, code: str) -> str:
    """A code the server stores (a need, a reason) in the chosen language; other text as written."""
    return t(code) if code in LABELS else code


def shelter_name(t: Translator, model: IntakeModel, shelter_id: int) -> str:
    """The shelter's name; its number only if the server has not told us the name."""
    return model.shelter_name(shelter_id) or f"{t('shelter')} #{shelter_id}"


def minutes_text(t: Translator, minutes: float) -> str:
    return t("under_a_minute") if minutes < 1 else f"{round(minutes)}{t('minutes')}"


def _choices(
    shell: Shell, label: str, value: str, options: tuple[str, ...], on_pick: Any, names: dict[str, str]
) -> ft.Control:
    """A labelled radio group laid out to wrap on a phone; each radio is a 48 px target."""

    # Bindings, not actions: synchronous, so a redraw first catches them up (pending_input).
    def picked(event: Any) -> None:
        on_pick(event.control.value)
        shell.render()

    return ft.Column(
        [
            ft.Text(label),
            ft.RadioGroup(
                ft.Row([ft.Radio(value=option, label=names[option], height=TARGET) for option in options], wrap=True),
                value=value,
                on_change=picked,
            ),
        ],
        spacing=0,
    )


def _request_form(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    t = shell.t

    def set_sex(value: str) -> None:
        model.sex = value

    def set_urgency(value: str) -> None:
        model.urgency = value

    def need_box(need: str) -> ft.Checkbox:
        def toggle(event: Any) -> None:
            if event.control.value:
                model.needs.add(need)
            else:
                model.needs.discard(need)
            shell.render()

        return ft.Checkbox(label=t(need), value=need in model.needs, on_change=toggle, height=TARGET)

    def shelter_box(shelter_id: int) -> ft.Checkbox:
        def toggle(event: Any) -> None:
            model.choose(shelter_id, bool(event.control.value))
            shell.render()

        free = model.free_beds(shelter_id)
        beds = t("no_such_unit") if free is None else f"{t('free_beds')} {free}"
        return ft.Checkbox(
            label=f"{shelter_name(t, model, shelter_id)} · {beds}",
            value=shelter_id in model.chosen,
            on_change=toggle,
            height=TARGET,
        )

    return [
        heading(t("new_intake")),
        stepper(
            t("age"),
            str(model.age),
            shell.act(partial(model.nudge_age, -1)),
            shell.act(partial(model.nudge_age, 1)),
        ),
        _choices(shell, t("sex"), model.sex, INTAKE_SEXES, set_sex, {s: t(s) for s in INTAKE_SEXES}),
        ft.Text(f"{t('bed_category')}: {category_name(t, model.category)}", weight=ft.FontWeight.BOLD),
        _choices(shell, t("urgency"), model.urgency, URGENCIES, set_urgency, {u: t(u) for u in URGENCIES}),
        ft.Text(t("needs")),
        ft.Row([need_box(need) for need in NEEDS], wrap=True),
        ft.Text(t("shelters_to_ask")),
        *[shelter_box(shelter_id) for shelter_id in model.shelters],
        ft.Button(t("send_intake"), height=BIG, on_click=shell.act(model.send_request)),
    ]


def _placement_form(shell: Shell, model: IntakeModel, request_id: int, shelter_id: int) -> list[ft.Control]:
    t = shell.t
    key = (request_id, shelter_id)

    def set_name(event: Any) -> None:
        model.names[key] = event.control.value or ""

    def set_birth(event: Any) -> None:
        model.births[key] = event.control.value or ""

    return [
        ft.TextField(label=t("child_name"), value=model.names.get(key, ""), on_change=set_name, width=200),
        ft.TextField(
            label=t("birth_date"),
            hint_text="2016-04-02",
            value=model.births.get(key, ""),
            on_change=set_birth,
            width=200,
        ),
        ft.Button(t("place"), height=TARGET, on_click=shell.act(partial(model.place, request_id, shelter_id))),
    ]


def _answer_buttons(shell: Shell, model: IntakeModel, request_id: int) -> list[ft.Control]:
    t = shell.t
    if model.declining == request_id:
        buttons: list[ft.Control] = [ft.Text(t("shelter_decline_reason"))]
        for reason in DECLINE_REASONS:
            buttons.append(
                ft.OutlinedButton(
                    t(reason),
                    height=TARGET,
                    on_click=shell.act(partial(model.answer, request_id, False, reason)),
                )
            )

        async def never_mind() -> None:
            model.declining = None

        return [*buttons, ft.TextButton(t("cancel"), height=TARGET, on_click=shell.act(never_mind))]
    return [
        ft.Button(t("accept"), height=TARGET, on_click=shell.act(partial(model.answer, request_id, True))),
        ft.OutlinedButton(t("decline"), height=TARGET, on_click=shell.act(partial(model.answer, request_id, False))),
    ]


def _board(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("vacancies"))]
    for vacancy in model.vacancies:
        free = vacancy.capacity - vacancy.occupied
        controls.append(
            ft.Text(
                f"{shelter_name(t, model, vacancy.shelter_id)} · {category_name(t, vacancy.category)} · "
                f"{t('free_beds')} {free}/{vacancy.capacity}"
            )
        )
    return controls


def _beds(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    """The own shelter's bed categories, each with its beds, those in use, and ± one bed."""
    t = shell.t
    controls: list[ft.Control] = [heading(t("bed_categories"))]
    if not model.categories:
        controls.append(ft.Text(t("no_items")))
    for unit in model.categories:
        name = category_name(t, unit.category)
        # The shelter's own name for the category, where it gave one, next to the readable code.
        title = name if unit.label in (unit.category, name) else f"{unit.label} ({name})"
        controls.append(
            ft.Row(
                [
                    ft.Text(title, weight=ft.FontWeight.BOLD, width=140),
                    ft.Row(
                        [
                            icon_button(
                                ft.Icons.REMOVE,
                                f"{name} {t('beds_fewer')}",
                                shell.act(partial(model.nudge_beds, unit.category, -1)),
                            ),
                            ft.Text(
                                f"{t('beds')} {unit.capacity} · {t('in_use')} {unit.occupied}",
                                size=16,
                            ),
                            icon_button(
                                ft.Icons.ADD,
                                f"{name} {t('beds_more')}",
                                shell.act(partial(model.nudge_beds, unit.category, 1)),
                            ),
                        ],
                        spacing=4,
                        tight=True,
                        vertical_alignment=ft.CrossAxisAlignment.CENTER,
                    ),
                ],
                wrap=True,
                vertical_alignment=ft.CrossAxisAlignment.CENTER,
            )
        )
    return controls


def _in_care(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    """The children placed and not yet discharged; discharge asks once more before it is sent."""
    t = shell.t
    controls: list[ft.Control] = [heading(t("current_placements"))]
    children = model.in_care
    if not children:
        controls.append(ft.Text(t("no_items")))
    for child in children:
        # Not one merged semantic node: the child's lines and the discharge button are reached on their own.
        card = ft.Card(ft.Container(ft.Column(_child_lines(shell, model, child)), padding=12), semantic_container=False)
        controls.append(card)
    return controls


def _child_lines(shell: Shell, model: IntakeModel, child: InCare) -> list[ft.Control]:
    t = shell.t
    lines: list[ft.Control] = []
    if child.child:
        lines.append(ft.Text(f"{child.child.name} ({child.child.birth_date})", weight=ft.FontWeight.BOLD, size=18))
    lines.append(ft.Text(f"{child.age_years}{t('years_old')} · {t(child.sex)} · {category_name(t, child.category)}"))
    if child.shelter_id is not None:
        lines.append(ft.Text(f"{t('placed_at_shelter')}: {shelter_name(t, model, child.shelter_id)}"))
    placed = f"{t('placed_time')} {local_time(child.placed_at)}"
    if child.minutes_to_placement is not None:
        placed += f" · {t('minutes_to_placement')} {minutes_text(t, child.minutes_to_placement)}"
    lines.append(ft.Text(placed, color=MUTED))
    if model.discharging == child.placement_id:
        lines += [
            ft.Text(t("confirm_discharge"), weight=ft.FontWeight.BOLD, color=ft.Colors.RED_800),
            ft.Row(
                [
                    ft.FilledButton(
                        t("discharge_yes"),
                        height=TARGET,
                        style=ft.ButtonStyle(bgcolor=ft.Colors.RED_800, color=ft.Colors.WHITE),
                        on_click=shell.act(model.confirm_discharge),
                    ),
                    ft.TextButton(t("keep_in_care"), height=TARGET, on_click=shell.act(model.keep_in_care)),
                ],
                wrap=True,
            ),
        ]
    else:
        lines.append(
            ft.OutlinedButton(
                t("discharge"), height=TARGET, on_click=shell.act(partial(model.ask_discharge, child.placement_id))
            )
        )
    return lines


def _state_filter(shell: Shell, model: IntakeModel) -> ft.Control:
    """One button per state with its count; the chosen one filled."""
    t = shell.t
    counts = model.counts()
    choices: list[tuple[str | None, str]] = [(None, f"{t('all_states')} {len(model.requests)}")]
    choices += [(state, f"{t(state)} {count}") for state, count in counts.items()]
    buttons: list[ft.Control] = []
    for state, text in choices:
        kind = ft.FilledButton if model.state == state else ft.OutlinedButton
        buttons.append(kind(text, height=TARGET, on_click=shell.act(partial(model.show_state, state))))
    return ft.Row(buttons, wrap=True, spacing=6, run_spacing=6)


def _request_card(shell: Shell, model: IntakeModel, request: IntakeRequest) -> ft.Control:
    t = shell.t
    caseworker = model.role == "caseworker"
    lines: list[ft.Control] = [
        ft.Text(
            f"#{request.id} · {request.age_years}{t('years_old')} · {t(request.sex)} · "
            f"{category_name(t, request.category)} · {t(request.urgency)} · {t(model.state_of(request))}",
            weight=ft.FontWeight.BOLD,
        ),
        ft.Text(f"{t('requested_time')} {local_time(request.created_at)}", color=MUTED),
    ]
    if request.needs:
        lines.append(ft.Text(f"{t('needs')}: " + ", ".join(word(t, n) for n in request.needs), color=MUTED))
    for target in request.targets or []:
        answer = f"→ {shelter_name(t, model, target.shelter_id)} {t(target.status)}"
        if target.reason:
            answer += f" ({word(t, target.reason)})"
        lines.append(ft.Text(answer))
        line: list[ft.Control] = []
        if caseworker and target.status == "accepted" and request.status == "open":
            line += _placement_form(shell, model, request.id, target.shelter_id)
        if not caseworker and target.status == "pending":
            line += _answer_buttons(shell, model, request.id)
        if line:
            lines.append(ft.Row(line, wrap=True))
    if request.child:
        lines.append(ft.Text(f"{request.child.name} ({request.child.birth_date})", weight=ft.FontWeight.BOLD))
    placement = request.placement
    minutes = model.minutes_to_placement(request)
    if placement and minutes is not None:
        lines.append(
            ft.Text(
                f"{t('placed_time')} {local_time(placement.placed_at)} · "
                f"{t('minutes_to_placement')} {minutes_text(t, minutes)}"
            )
        )
    if placement and placement.discharged_at:
        lines.append(ft.Text(f"{t('discharged')} {local_time(placement.discharged_at)}", color=MUTED))
    # Not one merged semantic node: each answer and each button is read and reached on its own.
    return ft.Card(ft.Container(ft.Column(lines), padding=12), semantic_container=False)


def view(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = []
    if model.role == "shelter":
        # The shelter's day: who sleeps here, then its beds, then what is asked of it.
        controls += _in_care(shell, model) + _beds(shell, model) + _board(shell, model)
    else:
        controls += _board(shell, model) + _request_form(shell, model)
    controls += [heading(t("intake_requests")), _state_filter(shell, model)]
    shown = model.shown
    if not shown:
        controls.append(ft.Text(t("no_items")))
    controls += [_request_card(shell, model, request) for request in shown]
    if model.role == "caseworker":
        controls += _in_care(shell, model)
    return controls + error_line(t, model.error)
