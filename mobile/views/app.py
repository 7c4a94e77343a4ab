"""The Flet client: login, a role-aware home, live updates. Views only render view models."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

import flet as ft
import flet_audio as fta

from backend.facilities.slots import TOKYO
from mobile.api import MusubiApi
from mobile.fonts import FAMILY
from mobile.realtime import LiveConnection
from mobile.send_queue import SendQueue
from mobile.sounds import alert_tone
from mobile.state.er import DECLINE_REASONS, ErModel
from mobile.state.i18n import Translator
from mobile.state.lists import IntakeModel, ResidentModel
from mobile.state.paramedic import JCS_VALUES, ParamedicModel
from mobile.state.session import SessionModel

BIG = 56  # touch targets for gloved hands
STATE_COLORS = {"live": ft.Colors.GREEN_700, "connecting": ft.Colors.AMBER_700, "offline": ft.Colors.RED_700}
STATUS_COLORS = {"accepted": ft.Colors.GREEN_700, "selected": ft.Colors.BLUE_700, "declined": ft.Colors.RED_700,
                 "pending": ft.Colors.GREY_700, "released": ft.Colors.GREY_500}  # fmt: skip


class MusubiApp:
    def __init__(self, page: ft.Page, api_url: str, gateway_url: str | None = None) -> None:
        self.page = page
        self.t = Translator("ja")
        self.api = MusubiApi(api_url)
        self.gateway_url = gateway_url
        self.session = SessionModel(self.api)
        self.live: LiveConnection | None = None
        self.live_state = "offline"
        self.paramedic: ParamedicModel | None = None
        self.er: ErModel | None = None
        self.chime: fta.Audio | None = None  # the ER desk's alert sound
        self.chimed = 0
        self.resident: ResidentModel | None = None
        self.intake: IntakeModel | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def act(self, work: Callable[[], Awaitable[Any]]) -> Callable[[Any], Awaitable[None]]:
        """An event handler that runs `work`, then redraws."""

        async def handler(_: Any) -> None:
            await work()
            self.render()

        return handler

    def render(self) -> None:
        self.page.controls.clear()
        self.page.controls.extend(self.screen())
        self.page.update()

    async def start(self) -> None:
        self.page.title = "Musubi 結び"
        self.page.scroll = ft.ScrollMode.AUTO
        self.page.padding = 12
        self.page.theme_mode = ft.ThemeMode.LIGHT
        self.render()

    async def on_event(self, event: dict[str, Any]) -> None:
        for model in (self.paramedic, self.er, self.intake, self.resident):
            if model is not None:
                await model.on_event(event)
        if self.er is not None and self.chime is not None and self.er.chimes > self.chimed:
            self.chimed = self.er.chimes
            # In the background: a browser that cannot play sound must not hold up the visual alert.
            self.page.run_task(self.chime.play)
        self.render()

    def on_state(self, state: str) -> None:
        self.live_state = state
        self.render()

    # -- screens ------------------------------------------------------------------------------

    def screen(self) -> list[ft.Control]:
        if self.session.me is None:
            return self.login_screen()
        home = self.session.home
        body = {
            "paramedic": self.paramedic_screen,
            "er": self.er_screen,
            "caseworker": self.intake_screen,
            "shelter": self.intake_screen,
        }.get(home, self.resident_screen)()
        return [self.header(), ft.Divider(), *body]

    def header(self) -> ft.Control:
        t = self.t
        assert self.session.me is not None
        return ft.Row(
            [
                ft.Text(t("app_title"), size=20, weight=ft.FontWeight.BOLD),
                ft.Text(self.session.me["displayName"]),
                ft.Container(
                    ft.Text(t(self.live_state), color=ft.Colors.WHITE),
                    bgcolor=STATE_COLORS.get(self.live_state, ft.Colors.GREY),
                    padding=6,
                    border_radius=8,
                ),
                ft.TextButton(t("language"), on_click=self.act(self.toggle_language)),
                ft.TextButton(t("logout"), on_click=self.act(self.logout)),
            ],
            wrap=True,
        )

    def login_screen(self) -> list[ft.Control]:
        t, session = self.t, self.session
        submit = self.act(self.login)
        # Enabled once both fields hold something, so nobody sends (and is scolded for) an empty form.
        button = ft.Button(t("login"), on_click=submit, height=BIG, width=360, disabled=not session.can_log_in)

        def typed(name: str) -> Callable[[ft.Event[ft.TextField]], None]:
            def keep(event: ft.Event[ft.TextField]) -> None:
                setattr(session, name, event.data or "")
                if button.disabled == session.can_log_in:
                    button.disabled = not session.can_log_in
                    button.update()

            return keep

        controls: list[ft.Control] = [
            ft.Text(t("app_title"), size=28, weight=ft.FontWeight.BOLD),
            ft.TextField(
                label=t("email"),
                value=session.email,
                autofocus=True,
                width=360,
                keyboard_type=ft.KeyboardType.EMAIL,
                on_change=typed("email"),
                on_submit=submit,
            ),
            ft.TextField(
                label=t("password"),
                value=session.password,
                password=True,
                width=360,
                on_change=typed("password"),
                on_submit=submit,
            ),
            button,
            ft.TextButton(t("language"), on_click=self.act(self.toggle_language)),
        ]
        if self.session.error:
            controls.append(ft.Text(self.session.error, color=ft.Colors.RED_700))
        return controls

    async def toggle_language(self) -> None:
        self.t.toggle()

    async def login(self) -> None:
        if not self.session.can_log_in or not await self.session.login():
            return
        home = self.session.home
        if home == "paramedic":
            self.paramedic = ParamedicModel(self.api, SendQueue(self.api, on_change=lambda: None))
            await self.paramedic.load_hospitals()
        elif home == "er":
            self.er = ErModel(self.api)
            await self.er.load()
            self.chime = fta.Audio(src=alert_tone())
            self.page.services.append(self.chime)
        elif home in ("caseworker", "shelter"):
            self.intake = IntakeModel(self.api)
            await self.intake.load()
        else:
            self.resident = ResidentModel(self.api)
            await self.resident.load()
        self.live = LiveConnection(self.api, self.on_event, self.on_state, url_override=self.gateway_url)
        self.live.start()

    async def logout(self) -> None:
        if self.live is not None:
            await self.live.stop()
        await self.session.logout()
        self.paramedic = self.er = self.resident = self.intake = None
        if self.chime is not None:
            self.page.services.remove(self.chime)
            self.chime, self.chimed = None, 0

    # -- paramedic --------------------------------------------------------------------------------

    def stepper(self, name: str, label: str) -> ft.Control:
        model = self.paramedic
        assert model is not None

        def step(direction: int) -> Callable[[Any], Awaitable[None]]:
            async def apply() -> None:
                model.step(name, direction)

            return self.act(apply)

        return ft.Row(
            [
                ft.Text(label, width=120),
                ft.IconButton(ft.Icons.REMOVE, on_click=step(-1), icon_size=32, tooltip=f"{label} −"),
                ft.Text(str(getattr(model, name)), size=22, width=60, text_align=ft.TextAlign.CENTER),
                ft.IconButton(ft.Icons.ADD, on_click=step(1), icon_size=32, tooltip=f"{label} +"),
            ]
        )

    def paramedic_screen(self) -> list[ft.Control]:
        t, model = self.t, self.paramedic
        assert model is not None

        async def set_sex(sex: str) -> None:
            model.sex = sex

        sexes: list[ft.Control] = [ft.Text(t("sex"), width=120)]
        sexes += [
            ft.Button(
                t(sex),
                height=BIG,
                on_click=self.act(partial(set_sex, sex)),
                bgcolor=ft.Colors.BLUE_100 if model.sex == sex else None,
            )
            for sex in ("male", "female", "unknown")
        ]

        async def set_jcs(event: Any) -> None:
            model.jcs = event.control.value
            self.render()

        async def set_complaint(event: Any) -> None:
            model.complaint = event.control.value or ""

        controls: list[ft.Control] = [ft.Text(t("new_case"), size=18, weight=ft.FontWeight.BOLD)]
        if model.case_id is None:
            controls += [
                self.stepper("age", t("age")),
                ft.Row(sexes, wrap=True),
                ft.TextField(label=t("complaint"), value=model.complaint, on_change=set_complaint, multiline=True),
                ft.Dropdown(
                    label=t("jcs"),
                    value=model.jcs,
                    width=200,
                    on_select=set_jcs,
                    options=[ft.DropdownOption(key=value, text=value) for value in JCS_VALUES],
                ),
                ft.Text(t("gcs")),
                self.stepper("e", "E"),
                self.stepper("v", "V"),
                self.stepper("m", "M"),
                self.stepper("sbp", t("sbp")),
                self.stepper("hr", t("hr")),
                self.stepper("spo2", t("spo2")),
            ]
        controls.append(ft.Text(t("hospitals"), size=18, weight=ft.FontWeight.BOLD))
        for hospital in model.hospitals:
            hospital_id = hospital["hospitalId"]

            async def toggle(_: Any, hospital_id: int = hospital_id) -> None:
                model.toggle(hospital_id)
                self.render()

            controls.append(
                ft.Checkbox(
                    label=f"{hospital['name']} · {hospital['km']:.1f} km · {hospital['best']}",
                    value=hospital_id in model.selected,
                    on_change=toggle,
                )
            )
        controls.append(ft.Button(t("send_to_selected"), height=BIG, on_click=self.act(model.send)))

        async def attach_photo() -> None:
            picker = ft.FilePicker()
            self.page.services.append(picker)
            files = await picker.pick_files(file_type=ft.FilePickerFileType.IMAGE, with_data=True)
            for picked in files or []:
                if picked.bytes:
                    await model.attach(picked.name, bytes(picked.bytes))

        controls.append(
            ft.Button(t("attach_photo"), icon=ft.Icons.PHOTO_CAMERA, height=BIG, on_click=self.act(attach_photo))
        )
        if model.photos_sent or model.photos_pending:
            controls.append(
                ft.Text(
                    f"{t('photos')}: {len(model.photos_sent)} {t('sent')} · {len(model.photos_pending)} {t('queued')}"
                )
            )
        if model.requests:
            controls.append(ft.Text(t("answers"), size=18, weight=ft.FontWeight.BOLD))
            for hospital_id, request in sorted(model.requests.items()):
                row: list[ft.Control] = [
                    ft.Text(model.hospital_name(hospital_id), expand=True),
                    ft.Text(t(request["status"]), color=STATUS_COLORS.get(request["status"])),
                ]
                if request["status"] == "accepted":
                    row.append(
                        ft.Button(
                            t("confirm_destination"),
                            height=BIG,
                            on_click=self.act(partial(model.confirm, hospital_id)),
                        )
                    )
                controls.append(ft.Row(row))
        if model.queue.items:
            controls.append(ft.Text(t("queue"), size=16))
            controls += [
                ft.Text(f"{t(item.label)}: {t(item.status)}" + (f" — {item.error}" if item.error else ""))
                for item in model.queue.items
            ]
        if model.error:
            controls.append(ft.Text(model.error, color=ft.Colors.RED_700))
        return controls

    # -- ER -------------------------------------------------------------------------------------------

    def er_screen(self) -> list[ft.Control]:
        t, model = self.t, self.er
        assert model is not None
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
                                on_click=self.act(acknowledge),
                            ),
                        ]
                    ),
                    bgcolor=ft.Colors.RED_700,
                    padding=12,
                    border_radius=8,
                )
            )
        hospital_id = self.session.organization("hospital")
        if hospital_id is not None:
            controls.append(
                ft.Row(
                    [ft.Text(f"{t('board')} ({model.department}): {t(model.board_status or 'unknown')}")]
                    + [
                        ft.OutlinedButton(t(status), on_click=self.act(partial(model.set_board, hospital_id, status)))
                        for status in ("accepting", "limited", "not_accepting")
                    ],
                    wrap=True,
                )
            )
        if model.case is not None:
            controls.append(self.case_card(model.case))
        controls.append(ft.Text(t("inbox"), size=18, weight=ft.FontWeight.BOLD))
        if not model.inbox:
            controls.append(ft.Text(t("no_items")))
        for item in model.inbox:
            request_id = item["requestId"]
            summary = (
                f"#{item['caseId']} · {item['estimatedAge']} · {t(item['sex'] or 'unknown')} · "
                f"{item['chiefComplaint']} · JCS {item['jcs'] or '-'} · ETA {item['etaMinutes'] or '-'}"
            )
            buttons: list[ft.Control] = [
                ft.Text(t(item["status"]), color=STATUS_COLORS.get(item["status"])),
                ft.TextButton(t("details"), on_click=self.act(partial(model.open_case, item["caseId"]))),
            ]
            if item["status"] == "pending":
                buttons.append(
                    ft.Button(
                        t("accept"),
                        height=BIG,
                        bgcolor=ft.Colors.GREEN_100,
                        on_click=self.act(partial(model.answer, request_id, True)),
                    )
                )
                buttons += [
                    ft.OutlinedButton(t(reason), on_click=self.act(partial(model.answer, request_id, False, reason)))
                    for reason in DECLINE_REASONS
                ]
            controls.append(
                ft.Card(ft.Container(ft.Column([ft.Text(summary, size=16), ft.Row(buttons, wrap=True)]), padding=12))
            )
        if model.error:
            controls.append(ft.Text(model.error, color=ft.Colors.RED_700))
        return controls

    def case_card(self, case: dict[str, Any]) -> ft.Control:
        t, model = self.t, self.er
        assert model is not None

        async def close() -> None:
            model.close_case()

        gcs = case.get("gcs") or {}
        lines: list[ft.Control] = [
            ft.Text(f"#{case['id']} · {case['estimatedAge']} · {t(case['sex'] or 'unknown')}", size=18),
            ft.Text(f"{t('complaint')}: {case['chiefComplaint']}"),
            ft.Text(f"JCS {case['jcs'] or '-'} · GCS E{gcs.get('e', '-')}V{gcs.get('v', '-')}M{gcs.get('m', '-')}"),
            ft.Text(f"{t('allergies')}: {', '.join(case['allergies']) or '-'}"),
            ft.Text(f"{t('medications')}: {', '.join(case['medications']) or '-'}"),
        ]
        for vitals in case["vitals"]:
            lines.append(
                ft.Text(
                    f"{_local_time(vitals['takenAt'])} BP {vitals['sbp'] or '-'}/{vitals['dbp'] or '-'} · "
                    f"HR {vitals['hr'] or '-'} · RR {vitals['rr'] or '-'} · SpO2 {vitals['spo2'] or '-'} · "
                    f"{vitals['temp'] or '-'}℃"
                )
            )
        lines.append(ft.TextButton(t("close"), on_click=self.act(close)))
        return ft.Card(ft.Container(ft.Column(lines), padding=12), bgcolor=ft.Colors.BLUE_50)

    # -- residents, caseworkers, shelters ---------------------------------------------------------------

    def resident_screen(self) -> list[ft.Control]:
        t, model = self.t, self.resident
        assert model is not None
        controls: list[ft.Control] = [
            ft.Row(
                [
                    ft.IconButton(ft.Icons.CHEVRON_LEFT, on_click=self.act(partial(model.next_day, -1)), tooltip="−1"),
                    ft.Text(f"{t('vacancies')} {model.day}", size=18, weight=ft.FontWeight.BOLD),
                    ft.IconButton(ft.Icons.CHEVRON_RIGHT, on_click=self.act(partial(model.next_day, 1)), tooltip="+1"),
                ]
            )
        ]
        place = None
        for vacancy in model.vacancies[:20]:
            if model.place(vacancy["resourceId"]) != place:
                place = model.place(vacancy["resourceId"])
                controls.append(ft.Text(place, weight=ft.FontWeight.BOLD))
            when = f"{_local_time(vacancy['start'])}–{_local_time(vacancy['end'])}"
            controls.append(
                ft.Row(
                    [
                        ft.Text(when, expand=True),
                        ft.Button(t("book"), on_click=self.act(partial(model.book, vacancy))),
                    ]
                )
            )

        async def save_calendar() -> None:
            if (ics := await model.calendar()) is not None:
                picker = ft.FilePicker()
                self.page.services.append(picker)
                await picker.save_file(file_name="musubi-bookings.ics", src_bytes=ics)

        controls.append(
            ft.Row(
                [
                    ft.Text(t("my_bookings"), size=18, weight=ft.FontWeight.BOLD, expand=True),
                    ft.TextButton(t("add_to_calendar"), icon=ft.Icons.EVENT, on_click=self.act(save_calendar)),
                ]
            )
        )
        for booking in model.bookings:
            when = f"{booking['start'][:10]} {_local_time(booking['start'])}"
            summary = f"{model.place(booking['resourceId'])} {when} · {t(booking['status'])}"
            row: list[ft.Control] = [ft.Text(f"{summary} · ¥{booking['fee']}", expand=True)]
            if booking["status"] == "held":
                row.append(ft.Button(t("take_offer"), on_click=self.act(partial(model.take_hold, booking))))
            if booking["status"] in ("provisional", "confirmed", "held"):
                row.append(ft.TextButton(t("cancel"), on_click=self.act(partial(model.cancel, booking["id"]))))
            controls.append(ft.Row(row))
        if not model.bookings:
            controls.append(ft.Text(t("no_items")))
        if model.children:
            controls.append(ft.Text(t("childcare"), size=18, weight=ft.FontWeight.BOLD))
        if model.lotteries or model.applications:
            controls.append(ft.Text(t("lottery"), size=18, weight=ft.FontWeight.BOLD))
        for lottery in model.lotteries:
            controls.append(self.lottery_card(lottery))
        for application in model.applications:
            outcome = {"drawn": t("won") if application["wonRank"] else t("lost")}.get(
                application["state"], t("waiting_draw")
            )
            first = application["preferences"][0]
            controls.append(
                ft.Text(f"#{application['lotteryId']} {first['start'][:10]} {_local_time(first['start'])} · {outcome}")
            )
        for reservation in model.reservations:
            where = f"{reservation['date']} {t(reservation['block'])} #{reservation['nurseryId']}"
            label = f"{where} · {t(reservation['status'])}"
            controls.append(
                ft.Row(
                    [
                        ft.Text(label, expand=True),
                        ft.TextButton(
                            t("cancel"), on_click=self.act(partial(model.cancel_reservation, reservation["id"]))
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
                                disabled=session["mark"] == "×",
                                on_click=self.act(partial(model.reserve, child["id"], session["sessionId"])),
                            ),
                        ]
                    )
                )
        if model.error:
            controls.append(ft.Text(model.error, color=ft.Colors.RED_700))
        return controls

    def lottery_card(self, lottery: dict[str, Any]) -> ft.Control:
        t, model = self.t, self.resident
        assert model is not None
        day, hour = model.choice(lottery["id"])

        def stepper(which: str, label: str, shown: str) -> list[ft.Control]:
            return [
                ft.Text(label, width=40),
                ft.IconButton(ft.Icons.REMOVE, on_click=self.act(partial(model.nudge, lottery["id"], which, -1))),
                ft.Text(shown, size=18),
                ft.IconButton(ft.Icons.ADD, on_click=self.act(partial(model.nudge, lottery["id"], which, 1))),
            ]

        heading = f"#{lottery['id']} {lottery['month'][:7]} · {t('closes')} {lottery['closesAt'][:10]}"
        return ft.Card(
            ft.Container(
                ft.Column(
                    [
                        ft.Text(heading),
                        ft.Row(
                            [*stepper("day", t("day"), str(day)), *stepper("hour", t("hour"), f"{hour}:00")], wrap=True
                        ),
                        ft.Button(t("apply"), on_click=self.act(partial(model.apply_choice, lottery))),
                    ]
                ),
                padding=12,
            )
        )

    def intake_screen(self) -> list[ft.Control]:
        t, model = self.t, self.intake
        assert model is not None
        caseworker = self.session.home == "caseworker"
        controls: list[ft.Control] = [ft.Text(t("vacancies"), size=18, weight=ft.FontWeight.BOLD)]
        for vacancy in model.vacancies:
            free = vacancy["capacity"] - vacancy["occupied"]
            beds = f"#{vacancy['shelterId']} {vacancy['category']}: {free}/{vacancy['capacity']}"
            row: list[ft.Control] = [ft.Text(beds, expand=True)]
            if not caseworker:
                for delta in (-1, 1):
                    row.append(
                        ft.IconButton(
                            ft.Icons.ADD if delta > 0 else ft.Icons.REMOVE,
                            on_click=self.act(
                                partial(
                                    model.set_beds,
                                    vacancy["shelterId"],
                                    vacancy["category"],
                                    vacancy["capacity"] + delta,
                                )
                            ),
                        )
                    )
            controls.append(ft.Row(row))
        if caseworker:

            async def set_age(delta: int) -> None:
                model.age = max(0, min(17, model.age + delta))

            controls += [
                ft.Text(t("new_intake"), size=18, weight=ft.FontWeight.BOLD),
                ft.Row(
                    [
                        ft.Text(t("age"), width=120),
                        ft.IconButton(ft.Icons.REMOVE, on_click=self.act(partial(set_age, -1))),
                        ft.Text(str(model.age), size=22),
                        ft.IconButton(ft.Icons.ADD, on_click=self.act(partial(set_age, 1))),
                    ]
                ),
                ft.Text(f"{model.category} · {model.urgency}"),
                ft.Button(t("send_intake"), height=BIG, on_click=self.act(model.send_request)),
            ]
        controls.append(ft.Text(t("intake_requests"), size=18, weight=ft.FontWeight.BOLD))
        if not model.requests:
            controls.append(ft.Text(t("no_items")))
        for request in model.requests:
            lines: list[ft.Control] = [
                ft.Text(
                    f"#{request['id']} · {request['ageYears']} · {request['sex']} · {request['category']} · "
                    f"{request['urgency']} · {request['status']}"
                )
            ]
            for target in request.get("targets") or []:
                line: list[ft.Control] = [ft.Text(f"→ #{target['shelterId']} {t(target['status'])}", expand=True)]
                if caseworker and target["status"] == "accepted" and request["status"] == "open":
                    name_field = ft.TextField(label=t("child_name"), width=160)
                    birth_field = ft.TextField(label=t("birth_date"), hint_text="2016-04-02", width=140)

                    async def place(
                        request_id: int = request["id"],
                        shelter_id: int = target["shelterId"],
                        name: ft.TextField = name_field,
                        birth: ft.TextField = birth_field,
                    ) -> None:
                        await model.place(request_id, shelter_id, name.value or "", birth.value or "")

                    line += [name_field, birth_field, ft.Button(t("place"), on_click=self.act(place))]
                if not caseworker and target["status"] == "pending":
                    line += [
                        ft.Button(t("accept"), on_click=self.act(partial(model.answer, request["id"], True))),
                        ft.OutlinedButton(t("decline"), on_click=self.act(partial(model.answer, request["id"], False))),
                    ]
                lines.append(ft.Row(line, wrap=True))
            if request.get("child"):
                lines.append(
                    ft.Text(f"{request['child']['name']} ({request['child']['birthDate']})", weight=ft.FontWeight.BOLD)
                )
            controls.append(ft.Card(ft.Container(ft.Column(lines), padding=12)))
        if model.error:
            controls.append(ft.Text(model.error, color=ft.Colors.RED_700))
        return controls


def _local_time(instant: str) -> str:
    """HH:MM in Japan time for an RFC 3339 instant."""
    return datetime.fromisoformat(instant).astimezone(TOKYO).strftime("%H:%M")


def make_main(
    api_url: str, gateway_url: str | None = None, font_url: str | None = None
) -> Callable[[ft.Page], Awaitable[None]]:
    async def main(page: ft.Page) -> None:
        if font_url is not None:
            page.fonts = {FAMILY: font_url}
            page.theme = ft.Theme(font_family=FAMILY)
        app = MusubiApp(page, api_url, gateway_url)
        await app.start()
        await asyncio.sleep(0)

    return main
