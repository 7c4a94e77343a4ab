"""Route parameters every context's routes declare the same way: ids in paths, the caller, paging.

Declared once so an id is bounded, a page sized and the caller injected alike on every route.
Context-specific ones (a context's `Service`, its own query filters) stay in its routes module.
"""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from backend.auth import Caller
from schema.base import MAX_ID

IdParam = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
Me = NamedDependency[Caller]

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=100, description="The `cursor` from the previous page's next link")
]

MunicipalityQuery = Annotated[int | None, QueryParameter(name="municipalityId", ge=1, le=2**31 - 1)]
