"""What a person typed or ticked that the app has not heard of yet, caught up before each redraw.

The browser reports an edit twice: first the control's new value (applied at once to the Python
control), then a change event whose handler copies it into the view model. Between the two, any
redraw (a live event, a load finishing) builds the field from the model, which is one keystroke
behind, and reconciling that onto the screen sends the old text back to the browser: the last
characters vanish while the person types (a child registered as "山田" when "山田 花" was typed),
or a ticked box unticks. So each redraw first hands every input whose value moved since it was
drawn to its own binding handler, and builds the screen from a model that has caught up.

Only plain (synchronous) handlers are called here: they are the bindings that copy a value into
the model, and copying the same value twice (here, then when the event arrives) changes nothing.
Asynchronous handlers are actions (search, toggle, save) and run once, from their own event."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import flet as ft

INPUTS = (ft.TextField, ft.Checkbox, ft.RadioGroup, ft.Switch)
Input = ft.TextField | ft.Checkbox | ft.RadioGroup | ft.Switch


@dataclasses.dataclass(frozen=True)
class ShownInput:
    control: Input
    value: Any  # as drawn
    bind: Callable[..., object]


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


def shown_inputs(root: ft.BaseControl) -> list[ShownInput]:
    """The inputs of a freshly drawn screen with a binding handler, and the value each was drawn with."""
    shown = []
    for control in controls_under(root):
        if isinstance(control, INPUTS):
            bind = control.on_change
            if bind is not None and not inspect.iscoroutinefunction(bind):
                shown.append(ShownInput(control, control.value, bind))
    return shown


def catch_up(shown: list[ShownInput]) -> None:
    """Hand each input's value, where the browser moved it since it was drawn, to its binding."""
    for item in shown:
        now = item.control.value
        if now != item.value:
            item.bind(ft.Event(name="change", data=now, control=item.control))
