from __future__ import annotations

from typing import get_args

import msgspec

from schema import events


def test_every_event_is_in_the_published_union_with_a_unique_tag() -> None:
    defined = {cls for cls in vars(events).values() if isinstance(cls, type) and issubclass(cls, events.Event)}
    defined.discard(events.Event)
    assert defined == set(get_args(events.AnyEvent))
    tags = [cls.__struct_config__.tag for cls in defined]
    assert len(set(tags)) == len(tags)


def test_events_decode_through_the_union() -> None:
    decoder = msgspec.json.Decoder(events.AnyEvent)
    decoded = decoder.decode(b'{"type": "ems.request.created", "requestId": 7, "caseId": 3}')
    assert decoded == events.EmsRequestCreated(request_id=7, case_id=3)
