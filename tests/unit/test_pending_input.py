"""A redraw between the browser's new value and its change event must not send the old text back:
the value the browser already reported reaches the model before the screen is built again; a value
the model already received (and may since have cleared) is left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flet as ft
from flet.utils.object_model import patch_dataclass

from mobile.views.pending_input import ShownInput, catch_up, watch_inputs


@dataclass
class Form:
    name: str = ""
    allergies: str = ""
    urgent: bool = False
    calls: list[str] = field(default_factory=list)


def screen(form: Form) -> ft.Column:
    def keep(name: str) -> Any:
        def bind(event: ft.Event[ft.TextField]) -> None:
            form.calls.append(name)
            setattr(form, name, event.data or "")

        return bind

    def tick(event: ft.Event[ft.Checkbox]) -> None:
        form.urgent = bool(event.control.value)

    async def search(_: Any) -> None:  # an action, not a binding
        form.calls.append("search")

    return ft.Column(
        [
            ft.Card(ft.Container(ft.Row([ft.TextField(label="氏名", value=form.name, on_change=keep("name"))]))),
            ft.TextField(label="アレルギー", value=form.allergies, on_change=keep("allergies")),
            ft.Checkbox(label="緊急", value=form.urgent, on_change=tick),
            ft.TextField(label="検索", on_change=search),
        ]
    )


def labelled(shown: list[ShownInput], label: str) -> Any:
    return next(item.control for item in shown if getattr(item.control, "label", None) == label)


def browser_reports(control: Any, value: object) -> None:
    """What the Flet session does with the browser's property update, before the change event."""
    patch_dataclass(control, {"value": value})


def change_event_arrives(control: Any) -> None:
    """The change event after it: the session calls the control's handler with the value."""
    control.on_change(ft.Event(name="change", data=control.value, control=control))


def test_text_typed_before_its_change_event_reaches_the_model_before_the_redraw() -> None:
    form = Form(name="山田")
    shown = watch_inputs(screen(form))
    browser_reports(labelled(shown, "氏名"), "山田 花")

    catch_up(shown)

    assert form.name == "山田 花"
    assert form.calls == ["name"]  # the untouched field is left alone
    assert [item.delivered for item in watch_inputs(screen(form))][:1] == ["山田 花"]  # nothing sent back


def test_the_late_change_event_changes_nothing_more() -> None:
    form = Form()
    shown = watch_inputs(screen(form))
    field_ = labelled(shown, "氏名")
    browser_reports(field_, "山田 花")
    catch_up(shown)
    change_event_arrives(field_)

    assert form.name == "山田 花"
    catch_up(shown)
    assert form.calls == ["name", "name"]  # once by the catch-up, once by its own event; no more


def test_a_form_cleared_after_sending_stays_cleared() -> None:
    form = Form()
    shown = watch_inputs(screen(form))
    field_ = labelled(shown, "氏名")
    browser_reports(field_, "山田 花")
    change_event_arrives(field_)  # every keystroke reached the model, then 登録 was tapped
    form.name = ""  # the model clears the form after registering the child

    catch_up(shown)

    assert form.name == ""


def test_a_ticked_box_stays_ticked_across_a_redraw() -> None:
    form = Form()
    shown = watch_inputs(screen(form))
    box = next(item.control for item in shown if isinstance(item.control, ft.Checkbox))
    browser_reports(box, True)

    catch_up(shown)

    assert form.urgent is True


def test_actions_are_not_run_by_the_catch_up() -> None:
    form = Form()
    root = screen(form)
    shown = watch_inputs(root)
    assert all(getattr(item.control, "label", None) != "検索" for item in shown)
    browser_reports(root.controls[3], "体育館")

    catch_up(shown)

    assert "search" not in form.calls


def test_an_event_older_than_the_text_on_the_control_does_not_hide_the_newer_text() -> None:
    form = Form()
    shown = watch_inputs(screen(form))
    field_ = labelled(shown, "氏名")
    browser_reports(field_, "山田")
    browser_reports(field_, "山田 花")  # the next keystroke's value lands before the first event runs
    field_.on_change(ft.Event(name="change", data="山田", control=field_))

    catch_up(shown)

    assert form.name == "山田 花"


def test_a_dropdown_choice_is_caught_up_too() -> None:
    chosen: list[str | None] = []
    menu = ft.Dropdown(
        value="mito",
        options=[ft.DropdownOption(key="mito"), ft.DropdownOption(key="bando")],
        on_select=lambda event: chosen.append(event.control.value),
    )
    shown = watch_inputs(ft.Column([menu]))
    browser_reports(menu, "bando")

    catch_up(shown)

    assert chosen == ["bando"]
