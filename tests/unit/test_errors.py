from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from backend.core.errors import field_errors_from_msgspec
from schema.base import FieldError


class Inner(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    spo2: Annotated[int, msgspec.Meta(ge=0, le=100)]


class Outer(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    display_name: str
    vitals: list[Inner] = []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"displayName": 1}', FieldError(field="$.displayName", message="Expected `str`, got `int`")),
        (b"{}", FieldError(field="$.displayName", message="Object missing required field `displayName`")),
        (b'{"displayName": "a", "x": 1}', FieldError(field="$.x", message="Object contains unknown field `x`")),
        (
            b'{"displayName": "a", "vitals": [{"spo2": 99}, {"spo2": 101}]}',
            FieldError(field="$.vitals[1].spo2", message="Expected `int` <= 100"),
        ),
        (
            b'{"displayName": "a", "vitals": [{}]}',
            FieldError(field="$.vitals[0].spo2", message="Object missing required field `spo2`"),
        ),
    ],
)
def test_msgspec_errors_become_field_paths(body: bytes, expected: FieldError) -> None:
    with pytest.raises(msgspec.ValidationError) as error:
        msgspec.json.decode(body, type=Outer, strict=True)
    assert field_errors_from_msgspec(error.value) == [expected]
