"""Keyset pagination: lists return a page and, when there may be more, an RFC 8288 `Link: <…>; rel="next"`."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.params import QueryParameter

from backend.errors import BadRequest

T = TypeVar("T")

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=100, description="The `cursor` from the previous page's next link")
]


def page(request: Request[Any, Any, Any], items: list[T], next_cursor: str | None) -> Response[list[T]]:
    headers = {}
    if next_cursor is not None:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        query["cursor"] = next_cursor
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(items, headers=headers)


def id_cursor(cursor: str | None) -> int:
    """The id after which the next page starts (0 for the first page)."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 19:
        raise BadRequest("The cursor is not one this server gave out.", slug="bad-cursor")
    return int(cursor)
