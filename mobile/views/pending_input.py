"""What a person typed or ticked that the app has not heard of yet, caught up before each redraw.

The browser reports an edit twice: first the control's new value (applied at once to the Python
control), then a change event whose handler copies it into the view model. Between the two, any
redraw (a live event, a load finishing) builds the field from the model, which is one keystroke
behind, and reconciling that onto the screen sends the old text back to the browser: the last
characters vanish while the person types (a child registered as "山田" when "山田 花" was typed),
or a ticked box unticks. So each redraw first hands every input whose value moved past what its
binding last received to that binding, and builds the screen from a model that has caught up. A
value the binding did receive is never handed on again: a form the model cleared after sending it
(the person typed, then tapped 登録) stays cleared.

Only plain (synchronous) handlers are called here: they are the bindings that copy a value into
the model, and copying the same value twice (here, then when the event arrives) changes nothing.
Asynchronous handlers are actions (search, save a preference on the server) and run once, from
their own event; an input whose handler is one is not covered, so a binding is written plain."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import flet as ft

INPUTS = (ft.TextField, ft.Checkbox, ft.RadioGroup, ft.Switch, ft.Dropdown)
Input = ft.TextField | ft.Checkbox | ft.RadioGroup | ft.Switch | ft.Dropdown


@dataclasses.dataclass
class ShownInput:
    control: Input
    bind: Callable[..., object]
    delivered: Any  # the last value its binding received; at first, the value it was drawn with


def controls_under(root: ft.BaseControl) -> Iterator[ft.BaseControl]:
    """Every control in the tree under `root` (its content, controls, and any other child field),
    in the order they are drawn."""
    stack, seen = [root], set()
    while stack:
        control = stack.pop()
        if id(control) in seen:
            continue
        seen.add(id(control))
        yield control
        children: list[ft.BaseControl] = []
        for field in dataclasses.fields(control):
            if field.name.startswith("_") or field.name == "parent":
                continue
            child = getattr(control, field.name, None)
            if isinstance(child, ft.BaseControl):
                children.append(child)
            elif isinstance(child, list):
                children.extend(item for item in child if isinstance(item, ft.BaseControl))
        stack.extend(reversed(children))


def watch_inputs(root: ft.BaseControl) -> list[ShownInput]:
    """Before a screen is drawn: each input with a binding handler, its binding wrapped so the last
    value it received is known (a value the model already had, or cleared since, is not handed on
    again)."""
    shown = []
    for control in controls_under(root):
        if not isinstance(control, INPUTS):
            continue
        handler = "on_select" if isinstance(control, ft.Dropdown) else "on_change"
        bind = getattr(control, handler)
        if bind is None or inspect.iscoroutinefunction(bind) or not _takes_event(bind):
            continue
        item = ShownInput(control, bind, control.value)

        def deliver(event: ft.Event[Any], item: ShownInput = item) -> object:
            # A text field's event carries the text it was sent with; a later keystroke's value may
            # already stand on the control, and that one is still to be handed on.
            item.delivered = event.data if isinstance(item.control, ft.TextField) else item.control.value
            return item.bind(event)

        setattr(control, handler, deliver)
        shown.append(item)
    return shown


def catch_up(shown: list[ShownInput]) -> None:
    """Hand each input's value, where the browser moved it past what its binding last received, to
    its binding."""
    for item in shown:
        now = item.control.value
        if now != item.delivered:
            item.delivered = now
            item.bind(ft.Event(name="change", data=now, control=item.control))


def _takes_event(handler: Callable[..., object]) -> bool:
    try:
        return len(inspect.signature(handler).parameters) == 1
    except (TypeError, ValueError):
        return False
