"""The caseworker's and the shelter's home: bed board, intake requests, answers, placement."""

from __future__ import annotations

from functools import partial

import flet as ft

from mobile.state.lists import IntakeModel
from mobile.views.widgets import BIG, TARGET, Shell, error_line, heading, icon_button, stepper


async def open_home(shell: Shell) -> IntakeModel:
    model = IntakeModel(shell.session.api)
    await model.load()
    return model


def view(shell: Shell, model: IntakeModel) -> list[ft.Control]:
    t = shell.t
    caseworker = shell.session.home == "caseworker"
    own_shelter = shell.session.organization("shelter")
    controls: list[ft.Control] = [heading(t("vacancies"))]
    for vacancy in model.vacancies:
        free = vacancy["capacity"] - vacancy["occupied"]
        beds = f"#{vacancy['shelterId']} {vacancy['category']}: {free}/{vacancy['capacity']}"
        row: list[ft.Control] = [ft.Text(beds, expand=True)]
        if not caseworker and vacancy["shelterId"] == own_shelter:
            for delta, icon, label in ((-1, ft.Icons.REMOVE, "beds_fewer"), (1, ft.Icons.ADD, "beds_more")):
                row.append(
                    icon_button(
                        icon,
                        f"{vacancy['category']} {t(label)}",
                        shell.act(
                            partial(
                                model.set_beds, vacancy["shelterId"], vacancy["category"], vacancy["capacity"] + delta
                            )
                        ),
                    )
                )
        controls.append(ft.Row(row))
    if caseworker:

        async def set_age(delta: int) -> None:
            model.age = max(0, min(17, model.age + delta))

        controls += [
            heading(t("new_intake")),
            stepper(t("age"), str(model.age), shell.act(partial(set_age, -1)), shell.act(partial(set_age, 1))),
            ft.Text(f"{model.category} · {model.urgency}"),
            ft.Button(t("send_intake"), height=BIG, on_click=shell.act(model.send_request)),
        ]
    controls.append(heading(t("intake_requests")))
    if not model.requests:
        controls.append(ft.Text(t("no_items")))
    for request in model.requests:
        lines: list[ft.Control] = [
            ft.Text(
                f"#{request['id']} · {request['ageYears']} · {t(request['sex'])} · {request['category']} · "
                f"{request['urgency']} · {t(request['status'])}"
            )
        ]
        for target in request.get("targets") or []:
            lines.append(ft.Text(f"→ #{target['shelterId']} {t(target['status'])}"))
            line: list[ft.Control] = []
            if caseworker and target["status"] == "accepted" and request["status"] == "open":
                name_field = ft.TextField(label=t("child_name"), width=160)
                birth_field = ft.TextField(label=t("birth_date"), hint_text="2016-04-02", width=160)

                async def place(
                    request_id: int = request["id"],
                    shelter_id: int = target["shelterId"],
                    name: ft.TextField = name_field,
                    birth: ft.TextField = birth_field,
                ) -> None:
                    await model.place(request_id, shelter_id, name.value or "", birth.value or "")

                line += [name_field, birth_field, ft.Button(t("place"), height=TARGET, on_click=shell.act(place))]
            if not caseworker and target["status"] == "pending":
                line += [
                    ft.Button(
                        t("accept"), height=TARGET, on_click=shell.act(partial(model.answer, request["id"], True))
                    ),
                    ft.OutlinedButton(
                        t("decline"), height=TARGET, on_click=shell.act(partial(model.answer, request["id"], False))
                    ),
                ]
            if line:
                lines.append(ft.Row(line, wrap=True))
        if request.get("child"):
            lines.append(
                ft.Text(f"{request['child']['name']} ({request['child']['birthDate']})", weight=ft.FontWeight.BOLD)
            )
        controls.append(ft.Card(ft.Container(ft.Column(lines), padding=12)))
    return controls + error_line(t, model.error)
