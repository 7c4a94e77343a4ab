"""The caseworker's and the shelter's home: bed board, intake requests, answers, placement."""

from __future__ import annotations

from functools import partial
from typing import Any

import flet as ft

from mobile.state.i18n import LABELS, Translator
from mobile.state.lists import DECLINE_REASONS, INTAKE_SEXES, NEEDS, URGENCIES, IntakeModel
from mobile.views.widgets import BIG, MUTED, TARGET, Shell, error_line, heading, icon_button, stepper


async def open_home(shell: Shell) -> IntakeModel:
    model = IntakeModel(shell.session.api)
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


def shelter_name(t: Translator, shelter_id: int) -> str:
    return f"{t('shelter')} #{shelter_id}"


def _choices(
    shell: Shell, label: str, value: str, options: tuple[str, ...], on_pick: Any, names: dict[str, str]
) -> ft.Control:
    """A labelled radio group laid out to wrap on a phone; each radio is a 48 px target."""

    async def picked(event: Any) -> None:
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
        async def toggle(event: Any) -> None:
            if event.control.value:
                model.needs.add(need)
            else:
                model.needs.discard(need)
            shell.render()

        return ft.Checkbox(label=t(need), value=need in model.needs, on_change=toggle, height=TARGET)

    def shelter_box(shelter_id: int) -> ft.Checkbox:
        async def toggle(event: Any) -> None:
            await model.choose(shelter_id, bool(event.control.value))
            shell.render()

        free = model.free_beds(shelter_id)
        beds = t("no_such_unit") if free is None else f"{t('free_beds')} {free}"
        return ft.Checkbox(
            label=f"{shelter_name(t, shelter_id)} · {beds}",
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


def view(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    t = shell.t
    caseworker = shell.session.home == "caseworker"
    own_shelter = shell.session.organization("shelter")
    controls: list[ft.Control] = [heading(t("vacancies"))]
    for vacancy in model.vacancies:
        free = vacancy["capacity"] - vacancy["occupied"]
        beds = (
            f"{shelter_name(t, vacancy['shelterId'])} · {category_name(t, vacancy['category'])} · "
            f"{t('free_beds')} {free}/{vacancy['capacity']}"
        )
        # No expand=True text in a Row here: inside the scrolling page it has no width to share and
        # Flutter draws the whole row as a grey error box.
        row: list[ft.Control] = [ft.Text(beds)]
        if not caseworker and vacancy["shelterId"] == own_shelter:
            for delta, icon, label in ((-1, ft.Icons.REMOVE, "beds_fewer"), (1, ft.Icons.ADD, "beds_more")):
                row.append(
                    icon_button(
                        icon,
                        f"{category_name(t, vacancy['category'])} {t(label)}",
                        shell.act(
                            partial(
                                model.set_beds, vacancy["shelterId"], vacancy["category"], vacancy["capacity"] + delta
                            )
                        ),
                    )
                )
        controls.append(ft.Row(row, wrap=True, vertical_alignment=ft.CrossAxisAlignment.CENTER))
    if caseworker:
        controls += _request_form(shell, model)
    controls.append(heading(t("intake_requests")))
    if not model.requests:
        controls.append(ft.Text(t("no_items")))
    for request in model.requests:
        lines: list[ft.Control] = [
            ft.Text(
                f"#{request['id']} · {request['ageYears']}{t('years_old')} · {t(request['sex'])} · "
                f"{category_name(t, request['category'])} · {t(request['urgency'])} · {t(request['status'])}",
                weight=ft.FontWeight.BOLD,
            )
        ]
        if request.get("needs"):
            lines.append(ft.Text(f"{t('needs')}: " + ", ".join(word(t, n) for n in request["needs"]), color=MUTED))
        for target in request.get("targets") or []:
            answer = f"→ {shelter_name(t, target['shelterId'])} {t(target['status'])}"
            if target.get("reason"):
                answer += f" ({word(t, target['reason'])})"
            lines.append(ft.Text(answer))
            line: list[ft.Control] = []
            if caseworker and target["status"] == "accepted" and request["status"] == "open":
                line += _placement_form(shell, model, request["id"], target["shelterId"])
            if not caseworker and target["status"] == "pending":
                line += _answer_buttons(shell, model, request["id"])
            if line:
                lines.append(ft.Row(line, wrap=True))
        if request.get("child"):
            lines.append(
                ft.Text(f"{request['child']['name']} ({request['child']['birthDate']})", weight=ft.FontWeight.BOLD)
            )
        placement = request.get("placement")
        if placement and placement.get("dischargedAt"):
            lines.append(ft.Text(t("discharged"), color=MUTED))
        elif placement:
            lines.append(
                ft.OutlinedButton(
                    t("discharge"), height=TARGET, on_click=shell.act(partial(model.discharge, placement["id"]))
                )
            )
        # Not one merged semantic node: each answer and each button is read and reached on its own.
        controls.append(ft.Card(ft.Container(ft.Column(lines), padding=12), semantic_container=False))
    return controls + error_line(t, model.error)
