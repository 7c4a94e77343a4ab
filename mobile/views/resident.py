"""The resident's (and parent's) home: vacancies by day, bookings, lotteries, childcare."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

import flet as ft

from mobile.api import Failure
from mobile.state.i18n import LABELS
from mobile.state.lists import ResidentModel
from mobile.state.lottery import month_days, preference_problems, resource_of, unit_end, unit_starts
from mobile.state.resident import (
    BLOCK_HOURS,
    KINDS,
    MARKS,
    WEEKS_AHEAD,
    CellState,
    SearchFilters,
    cell_state,
    opens_on,
    today,
)
from mobile.views.widgets import (
    MUTED,
    TARGET,
    Shell,
    ask,
    error_line,
    heading,
    icon_button,
    local_time,
    meeting_label,
    said,
    said_apart,
)
from schema.facilities import DayAvailability, FacilityAvailability, Vacancy
from schema.lottery import MAX_PREFERENCES, LotteryResource, LotterySummary, MyApplication
from schema.time import TOKYO

ALL = "all"  # the dropdowns' "no filter" choice
NEAR = "near"  # the municipality dropdown's "near me": nearest first from the device's position
# Text colours of the grid's cells, each at least 4.5:1 on its cell's background.
CELL_COLORS: dict[CellState, tuple[str, str]] = {
    "free": (ft.Colors.GREEN_900, ft.Colors.GREEN_50),
    "few": (ft.Colors.BROWN_800, ft.Colors.AMBER_50),
    "full": (ft.Colors.RED_900, ft.Colors.RED_50),
    "opens": (ft.Colors.BLUE_900, ft.Colors.BLUE_50),
    "past": (ft.Colors.GREY_800, ft.Colors.GREY_200),
}


SEARCH_PREFERENCE = "search"  # the device remembers the filters under this name


async def open_home(shell: Shell) -> ResidentModel:
    model = ResidentModel(shell.session.api)
    await model.start_search(SearchFilters.decode(await shell.recall(SEARCH_PREFERENCE)))
    return model


def view(shell: Shell, model: ResidentModel) -> list[ft.Control]:
    t = shell.t
    controls: list[ft.Control] = [heading(t("search_facilities")), *filters(shell, model)]
    # A refused position is said where "near me" was chosen, not below the whole page.
    located_error = model.error == "location_unavailable"
    if located_error:
        controls += error_line(t, model.error)
    names = municipality_names(shell, model)
    on = today()
    for facility in model.week:
        where = f"{names.get(facility.municipality_id, '')} · {t(facility.kind)}"
        if facility.distance_m is not None:
            where += " · " + t("distance_away").format(d=distance(facility.distance_m))
        controls.append(
            ft.Column(
                [
                    ft.Text(facility.name, weight=ft.FontWeight.BOLD, size=16),
                    ft.Text(where, color=MUTED),
                    ft.Row([day_cell(shell, model, facility, cell, on) for cell in facility.days], spacing=2),
                ],
                spacing=4,
            )
        )
        if model.facility_id == facility.id:
            controls += day_slots(shell, model, facility)
    if not model.week:
        controls.append(ft.Text(t("no_facilities_found")))
    if model.more_facilities:
        controls.append(ft.OutlinedButton(t("show_more"), height=TARGET, on_click=shell.act(model.show_more)))

    async def save_calendar() -> None:
        if (ics := await model.calendar()) is not None:
            picker = ft.FilePicker()
            shell.page.services.append(picker)
            await picker.save_file(file_name="musubi-bookings.ics", src_bytes=ics)

    controls.append(
        ft.Row(
            [
                ft.Text(t("my_bookings"), size=18, weight=ft.FontWeight.BOLD, expand=True),
                ft.TextButton(
                    t("add_to_calendar"), icon=ft.Icons.EVENT, height=TARGET, on_click=shell.act(save_calendar)
                ),
            ]
        )
    )
    for booking in model.bookings:
        when = f"{booking.start.date()} {local_time(booking.start)}"
        summary = f"{model.place(booking.resource_id)} {when} · {t(booking.status)}"
        row: list[ft.Control] = [ft.Text(f"{summary} · ¥{booking.fee}", expand=True)]
        if booking.status == "held":
            row.append(ft.Button(t("take_offer"), height=TARGET, on_click=shell.act(partial(model.take_hold, booking))))
        if booking.status in ("provisional", "confirmed", "held"):
            row.append(ft.TextButton(t("cancel"), height=TARGET, on_click=shell.act(partial(model.cancel, booking.id))))
        controls.append(ft.Row(row))
    if not model.bookings:
        controls.append(ft.Text(t("no_items")))
    if model.lotteries or model.applications:
        controls.append(heading(t("lottery")))
    for lottery in model.lotteries:
        controls.append(lottery_card(shell, model, lottery))
    if model.applications:
        controls.append(heading(t("my_lottery_applications"), size=16))
    for application in model.applications:
        controls.append(my_application(shell, application))
    controls += childcare(shell, model)
    return controls + ([] if located_error else error_line(t, model.error))


def my_application(shell: Shell, application: MyApplication) -> ft.Control:
    """An application as its applicant sees it: where, each ranked choice, and the outcome."""
    t = shell.t
    outcome = {"drawn": t("won") if application.won_rank else t("lost")}.get(application.state, t("waiting_draw"))
    if application.state == "cancelled":
        outcome = t("lottery_cancelled")
    places = " · ".join(dict.fromkeys(r.facility_name for r in application.resources))
    lines: list[ft.Control] = [
        ft.Text(f"{places} · {month_name(shell, application.month)} · {outcome}", weight=ft.FontWeight.BOLD)
    ]
    for p in application.preferences:
        won = " ✓" if application.won_rank == p.rank else ""
        lines.append(ft.Text(choice_line(shell, application.resources, p.rank, p.resource_id, p.start, p.end) + won))
    return ft.Container(said_apart(lines), padding=8, border=ft.Border.all(1, ft.Colors.GREY_500), border_radius=8,
                        key=f"application-{application.id}")  # fmt: skip


def distance(metres: int) -> str:
    """850 m, 1.2 km, 35 km: as precise as a person walking or driving there needs."""
    if metres < 1000:
        return f"{metres} m"
    return f"{metres / 1000:.1f} km" if metres < 10_000 else f"{round(metres / 1000)} km"


def municipality_names(shell: Shell, model: ResidentModel) -> dict[int, str]:
    ja = shell.t.locale == "ja"
    return {m.id: m.name_ja if ja else m.name_en for m in model.municipalities}


def weekday(shell: Shell, day: date) -> str:
    return shell.t(f"weekday_{day.weekday()}")


def filters(shell: Shell, model: ResidentModel) -> list[ft.Control]:
    """Municipality, kind and week; every change searches again and is remembered on this device."""
    t = shell.t

    def changed(**change: Any) -> Callable[[], Any]:
        async def work() -> None:
            await model.set_filters(**change)
            await shell.remember(SEARCH_PREFERENCE, model.filters.encode())

        return work

    async def pick_municipality(event: Any) -> None:
        value = event.control.value
        if value == NEAR:
            # Not remembered: the position is asked for afresh each time, and a refusal keeps the municipality.
            await model.search_near(await shell.locate())
        else:
            await changed(municipality_id=None if value in (None, ALL) else int(value))()
        shell.render()

    async def pick_kind(event: Any) -> None:
        value = event.control.value
        await changed(kind=None if value in (None, ALL) else value)()
        shell.render()

    names = municipality_names(shell, model)
    municipality = ft.Dropdown(
        label=t("municipality"),
        value=NEAR if model.near is not None else str(model.filters.municipality_id or ALL),
        width=190,
        menu_height=420,
        on_select=pick_municipality,
        options=[ft.DropdownOption(key=NEAR, text=t("near_me")), ft.DropdownOption(key=ALL, text=t("whole_prefecture"))]
        + [ft.DropdownOption(key=str(i), text=name) for i, name in names.items()],
    )
    kind = ft.Dropdown(
        label=t("facility_kind"),
        value=model.filters.kind or ALL,
        width=170,
        on_select=pick_kind,
        options=[ft.DropdownOption(key=ALL, text=t("every_kind"))]
        + [ft.DropdownOption(key=k, text=t(k)) for k in KINDS],
    )
    first = model.week_from
    last = first + timedelta(days=6)
    ahead = model.filters.week
    which = t("this_week") if ahead == 0 else t("coming_week") if ahead == 1 else t("weeks_ahead").format(n=ahead)
    shown = f"{which} {first.month}/{first.day}–{last.month}/{last.day}"
    week = ft.Row(
        [
            icon_button(
                ft.Icons.CHEVRON_LEFT,
                t("previous_week"),
                shell.act(changed(week=model.filters.week - 1)),
                disabled=model.filters.week <= 0,
            ),
            ft.Text(shown, size=16, weight=ft.FontWeight.BOLD),
            icon_button(
                ft.Icons.CHEVRON_RIGHT,
                t("next_week"),
                shell.act(changed(week=model.filters.week + 1)),
                disabled=model.filters.week >= WEEKS_AHEAD,
            ),
        ]
    )
    legend = ft.Text(t("grid_legend"), color=MUTED, size=13)
    # A dropdown's own semantics carry no name (it reached the accessibility tree as a bare button),
    # so each is named like the icon buttons are: what it chooses and what it holds — merged into
    # the dropdown's own node, or a nameless button stays inside the named one.
    where = (
        t("near_me") if model.near is not None else names.get(model.filters.municipality_id or 0, t("whole_prefecture"))
    )
    what = t(model.filters.kind) if model.filters.kind else t("every_kind")
    named: list[ft.Control] = [
        ft.MergeSemantics(ft.Semantics(content=municipality, label=f"{t('municipality')}: {where}", button=True)),
        ft.MergeSemantics(ft.Semantics(content=kind, label=f"{t('facility_kind')}: {what}", button=True)),
    ]
    return [ft.Row(named, wrap=True), week, legend]


def day_cell(
    shell: Shell, model: ResidentModel, facility: FacilityAvailability, cell: DayAvailability, on: date
) -> ft.Control:
    """One day of a facility: M/D, weekday and ◯△×, or 受付開始 and the day it opens. A tap opens the day."""
    t = shell.t
    state = cell_state(cell, on)
    day = cell.date
    color, background = CELL_COLORS[state]
    lines: list[ft.Control] = [ft.Text(f"{day.month}/{day.day}", size=12, color=color)]
    if state == "opens":
        lines += [ft.Text(t("opens_short"), size=10, color=color), ft.Text(opens_on(cell), size=12, color=color)]
        said = f"{t('opens_for_booking')} {opens_on(cell)}"
    else:
        lines += [
            ft.Text(weekday(shell, day), size=11, color=color),
            ft.Text(MARKS[state], size=20, weight=ft.FontWeight.BOLD, color=color),
        ]
        said = t(f"cell_{state}")
    box = ft.Container(
        ft.Column(lines, spacing=0, tight=True, horizontal_alignment=ft.CrossAxisAlignment.CENTER),
        width=52,
        height=76,
        padding=2,
        border_radius=6,
        bgcolor=background,
        border=ft.Border.all(2, ft.Colors.BLUE_900) if model.facility_id == facility.id and model.day == day else None,
        alignment=ft.Alignment.CENTER,
        on_click=None if state == "past" else shell.act(partial(model.open_day, facility.id, day)),
    )
    name = f"{facility.name} {day.month}/{day.day}({weekday(shell, day)}) {said}"
    return ft.Semantics(content=box, label=name, button=state != "past")


def day_slots(shell: Shell, model: ResidentModel, facility: FacilityAvailability) -> list[ft.Control]:
    """The opened day's units of one facility: book a free one (through the sheet), or wait for a taken one."""
    t = shell.t
    controls: list[ft.Control] = [
        ft.Row(
            [
                heading(f"{model.day.month}/{model.day.day}({weekday(shell, model.day)}) {t('slots_of_day')}", size=16),
                ft.TextButton(t("close"), height=TARGET, on_click=shell.act(model.close_day)),
            ],
            wrap=True,
        )
    ]
    place = None
    for vacancy in model.vacancies:
        if model.place(vacancy.resource_id) != place:
            place = model.place(vacancy.resource_id)
            controls.append(ft.Text(place, weight=ft.FontWeight.BOLD))
        when = f"{local_time(vacancy.start)}–{local_time(vacancy.end)}"
        action: ft.Control
        if vacancy.state == "free" and model.opens_later(vacancy, facility):
            action = ft.Text(t("opens_for_booking"), color=MUTED)
        elif vacancy.state == "free":
            action = ft.Button(t("book"), height=TARGET, on_click=partial(open_sheet, shell, model, vacancy))
        elif (vacancy.resource_id, vacancy.start) in model.mine:
            action = ft.Text(t("your_booking"), color=MUTED)
        elif (vacancy.resource_id, vacancy.start) in model.waiting:
            action = ft.Text(t("on_waitlist"), color=MUTED)
        elif vacancy.state == "closed":
            action = ft.Text(t("slot_closed"), color=MUTED)
        else:
            action = ft.OutlinedButton(
                t("join_waitlist"), height=TARGET, on_click=shell.act(partial(model.join_waitlist, vacancy))
            )
        state = "" if vacancy.state in ("free", "closed") else f" · {t('slot_' + vacancy.state)}"
        # Not wrapped: the time takes what the action leaves, so the panel spans the screen.
        controls.append(ft.Row([ft.Text(f"{when}{state}", expand=True), action]))
    if not model.vacancies:
        controls.append(ft.Text(t("no_items")))
    return [ft.Container(ft.Column(controls, spacing=6), padding=8, border=ft.Border.all(1, ft.Colors.BLUE_900),
                         border_radius=8)]  # fmt: skip


def childcare(shell: Shell, model: ResidentModel) -> list[ft.Control]:
    """Temporary childcare for each child on the chosen day and municipality: nursery, hours, what to
    bring, and reserve (once the nursery has met the child) or apply to meet; and a new child's form."""
    t = shell.t
    day = model.childcare_day
    controls: list[ft.Control] = [
        heading(t("childcare")),
        ft.Row(
            [
                icon_button(ft.Icons.CHEVRON_LEFT, t("previous_day"), shell.act(partial(model.next_childcare_day, -1))),
                ft.Text(f"{day.month}/{day.day}({weekday(shell, day)})", size=16, weight=ft.FontWeight.BOLD),
                icon_button(ft.Icons.CHEVRON_RIGHT, t("next_day"), shell.act(partial(model.next_childcare_day, 1))),
            ]
        ),
    ]
    for reservation in model.reservations:
        where = f"{reservation.date} {t(reservation.block)} #{reservation.nursery_id}"
        controls.append(
            ft.Row(
                [
                    ft.Text(f"{where} · {t(reservation.status)}", expand=True),
                    ft.TextButton(
                        t("cancel"),
                        height=TARGET,
                        on_click=shell.act(partial(model.cancel_reservation, reservation.id)),
                    ),
                ]
            )
        )
    for child in model.children:
        controls.append(ft.Text(f"{child.name} ({child.birth_date})", weight=ft.FontWeight.BOLD, size=16))
        for application in model.meetings(child.id):
            assert application.meeting_at is not None  # meetings() keeps those with a time
            controls.append(
                ft.Text(
                    f"{application.nursery_name} · {t('meeting')}: {meeting_label(application.meeting_at)}",
                    color=ft.Colors.BLUE_900,
                    weight=ft.FontWeight.BOLD,
                )
            )
        sessions = model.childcare.get(child.id, [])
        applied = model.applications_to.get(child.id, {})
        for session in sessions:
            nursery = session.nursery_id
            action: ft.Control
            if nursery in child.approved_nursery_ids:
                action = ft.Button(
                    t("reserve"),
                    height=TARGET,
                    disabled=session.mark == "×",
                    on_click=shell.act(partial(model.reserve, child.id, session.session_id)),
                )
            elif applied.get(nursery) == "pending":
                action = ft.Text(t("applied_to_meet"), color=MUTED)
            else:
                action = ft.OutlinedButton(
                    f"{t('apply_to_meet')}: {session.nursery_name}",
                    height=TARGET,
                    on_click=shell.act(partial(model.apply_to_nursery, child.id, nursery)),
                )
            bring = t("bring_full_day" if session.block == "full_day" else "bring_half_day")
            hours = f"{t(session.block)} {BLOCK_HOURS[session.block]} · {t('band_' + session.band)}"
            controls.append(
                ft.Container(
                    ft.Column(
                        [
                            ft.Row(
                                [
                                    ft.Text(session.mark, size=22, width=32),
                                    ft.Text(session.nursery_name, weight=ft.FontWeight.BOLD, expand=True),
                                ]
                            ),
                            ft.Text(hours),
                            ft.Text(f"{t('what_to_bring')}: {bring}", color=MUTED),
                            action,
                        ],
                        spacing=2,
                    ),
                    padding=8,
                    border=ft.Border.all(1, ft.Colors.GREY_500),
                    border_radius=8,
                )
            )
        if not sessions:
            controls.append(ft.Text(t("no_sessions"), color=MUTED))

    def typed(name: str) -> Callable[[Any], None]:
        def keep(event: Any) -> None:
            setattr(model, name, event.control.value or "")

        return keep

    controls += [
        heading(t("register_child"), size=16),
        ft.TextField(label=t("child_name"), value=model.child_name, on_change=typed("child_name")),
        ft.TextField(
            label=t("birth_date"), value=model.child_birth, hint_text="2022-04-01", on_change=typed("child_birth")
        ),
        ft.TextField(
            label=t("allergies"), value=model.child_allergies, hint_text="卵, 小麦", on_change=typed("child_allergies")
        ),
        ft.Button(t("register_child"), height=TARGET, on_click=shell.act(model.register_child)),
    ]
    return controls


def lottery_card(shell: Shell, model: ResidentModel, lottery: LotterySummary) -> ft.Control:
    """One open lottery: where and when, the person's applications to it, and the form for another
    (resource, day, time, ranked choices, then a confirmation before anything is sent)."""
    t = shell.t
    places = " · ".join(dict.fromkeys(r.facility_name for r in lottery.resources))
    resources = " · ".join(r.name for r in lottery.resources)
    lines: list[ft.Control] = [
        ft.Text(f"{places} · {resources}", size=16, weight=ft.FontWeight.BOLD),
        ft.Text(t("lottery_of_month").format(m=month_name(shell, lottery.month))),
        ft.Text(f"{t('applications_window')}: {moment(shell, lottery.opens_at)} – {moment(shell, lottery.closes_at)}"),
        ft.Text(f"{t('closes')}: {moment(shell, lottery.closes_at)} ({t('japan_time')})", weight=ft.FontWeight.BOLD),
    ]
    applied = model.applied_to(lottery.id)
    for application in applied:
        lines.append(ft.Text(f"✓ {t('lottery_received')}", color=ft.Colors.GREEN_800, weight=ft.FontWeight.BOLD))
        lines += [ft.Text(choice_line(shell, application.resources, p.rank, p.resource_id, p.start, p.end))
                  for p in application.preferences]  # fmt: skip
    left = lottery.per_user_cap - len(applied)
    if left <= 0:
        lines.append(ft.Text(t("applications_used_up"), color=MUTED))
        return ft.Card(ft.Container(said_apart(lines), padding=12), key=f"lottery-{lottery.id}")
    allowed = (
        t("applications_left").format(n=left)
        if applied
        else t("applications_per_person").format(n=lottery.per_user_cap)
    )
    lines.append(ft.Text(allowed, color=MUTED))
    rows: list[ft.Control] = [said_apart(lines)]
    if lottery.resources and model.filling_in(lottery):
        rows += lottery_form(shell, model, lottery)
    elif lottery.resources:
        rows.append(
            ft.OutlinedButton(
                t("apply_again"),
                height=TARGET,
                on_click=shell.act(partial(model.apply_again, lottery)),
                key=f"lottery-{lottery.id}-again",
            )
        )
    return ft.Card(ft.Container(ft.Column(rows), padding=12), key=f"lottery-{lottery.id}")


def lottery_form(shell: Shell, model: ResidentModel, lottery: LotterySummary) -> list[ft.Control]:
    t = shell.t
    form = model.lottery_form(lottery)
    resource = resource_of(lottery, form.resource_id) or lottery.resources[0]
    controls: list[ft.Control] = []
    if len(lottery.resources) > 1:

        def pick_resource(event: Any) -> None:  # a binding (see pending_input): plain, not async
            model.choose_lottery_resource(lottery, int(event.control.value))
            shell.render()

        controls += [
            said(ft.Text(t("lottery_resource"))),
            ft.RadioGroup(
                ft.Column([ft.Radio(value=str(r.id), label=r.name, height=TARGET) for r in lottery.resources]),
                value=str(resource.id),
                on_change=pick_resource,
                key=f"lottery-{lottery.id}-resource",
            ),
        ]
    hours = f"{resource.opens_at:%H:%M}–{resource.closes_at:%H:%M}"
    controls.append(
        said(
            ft.Text(
                f"{resource.name}: {t('opening_hours_unit').format(hours=hours, n=resource.unit_minutes)}", color=MUTED
            )
        )
    )

    def pick_day(event: Any) -> None:
        if event.control.value:
            model.choose_lottery_day(lottery, date.fromisoformat(event.control.value))
        shell.render()

    def pick_start(event: Any) -> None:
        if event.control.value:
            model.choose_lottery_start(lottery, time.fromisoformat(event.control.value))
        shell.render()

    days = month_days(lottery.month, datetime.now(TOKYO))
    day = ft.Dropdown(
        label=t("lottery_day"),
        value=form.day.isoformat(),
        width=140,
        menu_height=420,
        on_select=pick_day,
        options=[ft.DropdownOption(key=d.isoformat(), text=day_text(shell, d)) for d in days],
    )
    start = ft.Dropdown(
        label=t("lottery_time"),
        value=form.start.isoformat(),
        width=196,
        menu_height=420,
        on_select=pick_start,
        options=[
            ft.DropdownOption(key=s.isoformat(), text=f"{s:%H:%M}–{unit_end(resource, s):%H:%M}")
            for s in unit_starts(resource)
        ],
    )
    shown_time = f"{form.start:%H:%M}–{unit_end(resource, form.start):%H:%M}"
    # Named like the search filters: what it chooses and what it holds, merged into the dropdown's node.
    controls.append(
        ft.Row(
            [
                ft.MergeSemantics(
                    ft.Semantics(content=day, label=f"{t('lottery_day')}: {day_text(shell, form.day)}", button=True),
                    key=f"lottery-{lottery.id}-day",
                ),
                ft.MergeSemantics(
                    ft.Semantics(content=start, label=f"{t('lottery_time')}: {shown_time}", button=True),
                    key=f"lottery-{lottery.id}-time",
                ),
            ],
            wrap=True,
        )
    )
    controls.append(
        ft.OutlinedButton(
            t("add_preference"),
            icon=ft.Icons.ADD,
            height=TARGET,
            disabled=form.full,
            on_click=shell.act(partial(model.add_lottery_preference, lottery)),
            key=f"lottery-{lottery.id}-add",
        )
    )
    if form.problem:
        refusal = t(form.problem).format(n=form.clash if form.clash is not None else MAX_PREFERENCES)
        controls.append(said(ft.Text(refusal, color=ft.Colors.RED_800), key=f"lottery-{lottery.id}-problem"))
    controls.append(said(ft.Text(t("your_choices"), weight=ft.FontWeight.BOLD)))
    for rank, choice in enumerate(form.preferences, 1):
        line = choice_line(shell, lottery.resources, rank, choice.resource_id, choice.start, choice.end)
        controls.append(
            ft.Row(
                [
                    said(ft.Text(line), expand=True),
                    ft.TextButton(
                        f"{t('remove')}: {t('rank_n').format(n=rank)}",
                        height=TARGET,
                        on_click=shell.act(partial(model.remove_lottery_preference, lottery, rank)),
                    ),
                ],
                key=f"lottery-{lottery.id}-choice-{rank}",
            )
        )
    if not form.preferences:
        controls.append(said(ft.Text(t("no_choices_yet").format(n=MAX_PREFERENCES), color=MUTED)))
    if form.failure is not None:
        controls += [said(ft.Text(text, color=ft.Colors.RED_800)) for text in failure_lines(shell, form.failure)]

    async def ask_to_apply(_: Any) -> None:
        if not form.preferences:
            await model.apply(lottery)  # says why nothing was sent
            shell.render()
            return
        ask(
            shell,
            t("confirm_application"),
            [
                ft.Text(f"{' · '.join(dict.fromkeys(r.facility_name for r in lottery.resources))}",
                        weight=ft.FontWeight.BOLD),
                *[ft.Text(choice_line(shell, lottery.resources, rank, c.resource_id, c.start, c.end))
                  for rank, c in enumerate(form.preferences, 1)],
                ft.Text(t("lottery_draw_explained"), color=MUTED),
            ],
            t("apply"),
            partial(model.apply, lottery),
        )  # fmt: skip

    controls.append(ft.Button(t("apply"), height=TARGET, on_click=ask_to_apply, key=f"lottery-{lottery.id}-apply"))
    return controls


def choice_line(
    shell: Shell, resources: list[LotteryResource], rank: int, resource_id: int, start: datetime, end: datetime
) -> str:
    """第1希望: 第1コート 12/3(木) 10:00–11:00"""
    name = next((r.name for r in resources if r.id == resource_id), f"#{resource_id}")
    day = start.astimezone(TOKYO).date()
    return f"{shell.t('rank_n').format(n=rank)}: {name} {day_text(shell, day)} {local_time(start)}–{local_time(end)}"


def failure_lines(shell: Shell, failure: Failure) -> list[str]:
    """The server's refusal; a refused choice is named by its rank, in the person's language."""
    t = shell.t
    named = preference_problems(failure)
    if not named:
        return [t.failure(failure)]
    return [f"{t('rank_n').format(n=rank)}: {t(key)}" for rank, key in named]


def day_text(shell: Shell, day: date) -> str:
    """12/3(木)"""
    return f"{day.month}/{day.day}({weekday(shell, day)})"


def moment(shell: Shell, instant: datetime) -> str:
    """11/28(土) 10:00, Japan time."""
    return f"{day_text(shell, instant.astimezone(TOKYO).date())} {local_time(instant)}"


def month_name(shell: Shell, month: date) -> str:
    return f"{month.year}年{month.month}月" if shell.t.locale == "ja" else f"{month:%B %Y}"


def _sheet_content(shell: Shell, model: ResidentModel, vacancy: Vacancy, redraw: Callable[[], None]) -> ft.Control:
    t = shell.t
    quote = model.quote(vacancy)
    lines: list[ft.Control] = [
        ft.Text(f"{model.place(vacancy.resource_id)}", weight=ft.FontWeight.BOLD),
        ft.Text(f"{vacancy.start.date()} {local_time(vacancy.start)}–{local_time(vacancy.end)}"),
        ft.Text(f"{t('fee_resident')}: ¥{quote.resident:,}", size=18, weight=ft.FontWeight.BOLD),
    ]
    if quote.non_resident is not None and quote.non_resident != quote.resident:
        lines.append(ft.Text(f"{t('fee_non_resident')}: ¥{quote.non_resident:,}", size=18))
        lines.append(ft.Text(t("rate_by_address"), color=MUTED))
    if quote.reductions:

        async def pick(event: Any) -> None:
            model.reduction = event.control.value or None
            redraw()

        options = ["", *quote.reductions]
        lines += [
            ft.Text(t("reduction")),
            ft.RadioGroup(
                ft.Column(
                    [
                        ft.Radio(value=o, label=t(o) if o in LABELS else o or t("no_reduction"), height=TARGET)
                        for o in options
                    ]
                ),
                value=model.reduction or "",
                on_change=pick,
            ),
        ]
    cancel_by, pay_by = quote.cancel_by, quote.pay_by
    lines += [
        ft.Text(f"{t('cancel_by')}: {cancel_by:%Y-%m-%d} {local_time(cancel_by)}"),
        ft.Text(f"{t('pay_by')}: {pay_by:%Y-%m-%d} {local_time(pay_by)}"),
    ]
    return ft.Column(lines, tight=True, scroll=ft.ScrollMode.AUTO)


async def open_sheet(shell: Shell, model: ResidentModel, vacancy: Vacancy, _: Any = None) -> None:
    """The confirmation sheet: fee, reduction, cancellation and payment deadlines, then Confirm."""
    t = shell.t
    await model.ask_to_book(vacancy)

    def redraw() -> None:
        sheet.content = _sheet_content(shell, model, vacancy, redraw)
        sheet.update()

    async def confirm(_: Any) -> None:
        shell.page.pop_dialog()
        await model.confirm()
        shell.render()

    async def cancel(_: Any) -> None:
        shell.page.pop_dialog()
        await model.close_sheet()

    sheet = ft.AlertDialog(
        modal=True,
        title=ft.Text(t("confirm_booking")),
        content=ft.Text(""),
        actions=[
            ft.TextButton(t("back"), height=TARGET, on_click=cancel),
            ft.Button(t("confirm"), height=TARGET, on_click=confirm),
        ],
    )
    sheet.content = _sheet_content(shell, model, vacancy, redraw)
    shell.page.show_dialog(sheet)
