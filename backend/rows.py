"""Database row → response Struct, one way for every context.

A row's column names are the Struct's Python field names (snake_case, as SQL writes them), so
queries alias columns to the field they fill. msgspec matches a mapping by its *encoded* (camelCase)
keys, so the row goes in as attributes instead; columns the Struct has no field for are ignored,
and the values are checked against the field types as any other decode would be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any, TypeVar

import asyncpg
import msgspec

T = TypeVar("T")
Row = asyncpg.Record | Mapping[str, Any]


def from_row(type_: type[T], row: Row, **computed: Any) -> T:
    """`type_` filled from `row`; `computed` supplies (or replaces) fields the row does not carry as is."""
    return msgspec.convert(SimpleNamespace(**{**row, **computed}), type_, from_attributes=True)


def from_rows(type_: type[T], rows: Iterable[Row]) -> list[T]:
    return [from_row(type_, row) for row in rows]
