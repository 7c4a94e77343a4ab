from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
import pytest

from backend.errors import BadRequest
from backend.pagination import after_id, before_id, decode_cursor, encode_cursor
from schema.base import MAX_ID


def test_a_cursor_gives_back_the_key_it_was_made_from() -> None:
    assert after_id(encode_cursor(41)) == 41
    assert before_id(encode_cursor(41)) == 41
    key = (datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC), 7)
    assert decode_cursor(encode_cursor(key), tuple[datetime, int], None) == key
    assert decode_cursor(encode_cursor((date(2026, 1, 1), 3)), tuple[date, int], None) == (date(2026, 1, 1), 3)


def test_no_cursor_is_the_first_page() -> None:
    assert after_id(None) == 0
    assert before_id(None) == MAX_ID


@pytest.mark.parametrize(
    "cursor",
    ["x", "nope", "41", "2026-01-01.5", encode_cursor(-1), encode_cursor(2**63), encode_cursor("7"), encode_cursor([])],
)
def test_a_cursor_this_server_did_not_give_out_is_a_400(cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        after_id(cursor)
    assert refused.value.slug == "bad-cursor"


def test_a_composite_cursor_must_have_its_shape() -> None:
    key = tuple[Annotated[datetime, msgspec.Meta(tz=True)], int]
    for cursor in (encode_cursor(5), encode_cursor(["2026-01-01T00:00:00", 1]), encode_cursor(["yesterday", 1])):
        with pytest.raises(BadRequest):
            decode_cursor(cursor, key, None)
