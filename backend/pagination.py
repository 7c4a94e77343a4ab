"""Keyset pagination: lists return a page and, when there may be more, an RFC 8288 `Link: <…>; rel="next"`.

Every list pages the same way: the handler reads where to start from the `Cursor` parameter
(backend/params.py) with `after_id` / `before_id`, or `decode_cursor` for a composite key such
as (day, id); the service returns at most `limit` rows after that key; and `page` links to the
next page when this one is full. The cursor is opaque to clients — base64url of the JSON-encoded
key of the last item — so a list can change its key without changing its contract; anything this
server did not give out is a 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, Protocol, TypeVar, cast
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response

from backend.errors import BadRequest
from schema.base import MAX_ID

T = TypeVar("T")
K = TypeVar("K")

# A key id: never below the first page's 0 nor above what a bigint holds.
KeyId = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, type_: Any, first: K) -> K:
    """The key after which the next page starts, as `type_`; `first` for the first page (no cursor)."""
    if cursor is None:
        return first
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=type_)  # type: ignore[no-any-return]
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadRequest("The cursor is not one this server gave out.", slug="bad-cursor") from None


def after_id(cursor: str | None) -> int:
    """The id after which the next page starts, for lists in ascending id order (0: the first page)."""
    return decode_cursor(cursor, KeyId, 0)


def before_id(cursor: str | None) -> int:
    """The id before which the next page starts, for lists newest first (beyond any id: the first page)."""
    return decode_cursor(cursor, KeyId, MAX_ID)


def page(
    request: Request[Any, Any, Any], items: list[T], limit: int, key: Callable[[T], Any] | None = None
) -> Response[list[T]]:
    """`items` as the response; a full page links to the next, which starts after the last item's
    `key` (its id unless told otherwise)."""
    if not items or len(items) < limit:
        return page_from(request, items, None)
    last = items[-1]
    return page_from(request, items, key(last) if key is not None else cast(_HasId, last).id)


def page_from(request: Request[Any, Any, Any], items: list[T], next_key: Any) -> Response[list[T]]:
    """`items` as the response, linking to the page that starts after `next_key` (None: this is the last)."""
    headers = {}
    if next_key is not None:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        query["cursor"] = encode_cursor(next_key)
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(items, headers=headers)
