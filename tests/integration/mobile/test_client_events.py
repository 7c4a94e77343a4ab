"""The client decodes the gateway's messages into the schema's event union."""

from __future__ import annotations

import msgspec

from mobile.realtime import decode_event
from schema.events import EmsRequestCreated, LotteryResult


def test_event_data_becomes_its_tagged_struct() -> None:
    raw = msgspec.Raw(b'{"requestId": 7, "caseId": 3}')
    assert decode_event("ems.request.created", raw) == EmsRequestCreated(request_id=7, case_id=3)
    raw = msgspec.Raw(b'{"lotteryId": 1, "applicationId": 2, "won": true}')
    assert decode_event("lottery.result", raw) == LotteryResult(lottery_id=1, application_id=2, won=True)


def test_an_event_type_this_client_does_not_know_is_skipped() -> None:
    assert decode_event("something.new", msgspec.Raw(b'{"x": 1}')) is None
    assert decode_event("ems.request.created", msgspec.Raw(b'{"requestId": "seven"}')) is None
