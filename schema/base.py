"""Shared building blocks of the wire types."""

from typing import Annotated

import msgspec

# Ids are bigint identities in PostgreSQL; bounding them here turns an absurd id in a body
# into a 422 instead of an overflow deep in the driver.
MAX_ID = 2**63 - 1
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class Wire(msgspec.Struct, rename="camel", kw_only=True):
    """Base of every response Struct: camelCase keys on the wire."""


class Input(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: camelCase keys, and a misspelt field is an error, not silently ignored."""


class FieldError(Wire):
    field: str
    message: str


class Problem(Wire, omit_defaults=True):
    """RFC 9457 problem details. `type` is a stable URI clients may switch on."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
