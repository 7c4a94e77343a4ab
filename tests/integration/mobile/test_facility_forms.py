"""The facility staff's forms refuse what the server would, in the person's words, before sending;
and what they send is what the back-office endpoints take."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from mobile.api import ApiError
from mobile.state.facility import ClosureForm, LotteryForm, ResourceForm, field_errors
from mobile.state.i18n import LABELS
from schema.base import FieldError
from schema.facilities import ClosureCreate, Resource, ResourceUpdate
from schema.lottery import LotteryCreate
from schema.time import TOKYO

RESOURCE = msgspec.convert(
    {
        "id": 7,
        "facilityId": 3,
        "name": "第1コート",
        "unitMinutes": 60,
        "opensAt": "09:00:00",
        "closesAt": "21:00:00",
        "feePerUnit": 800,
        "nonResidentFeePerUnit": None,
        "cancelDeadlineHours": 24,
        "paymentDeadlineHours": 72,
        "payAtCounter": False,
        "maxBookingsPerMonth": 4,
        "waitlistHoldMinutes": 30,
        "lotteryOnly": False,
        "reductions": {},
        "residentHorizonMonths": 3,
        "nonResidentHorizonMonths": None,
    },
    Resource,
)


def test_an_untouched_resource_form_sends_a_valid_patch() -> None:
    body, errors = ResourceForm.of(RESOURCE).patch()
    assert errors == []
    update = msgspec.json.decode(msgspec.json.encode(body), type=ResourceUpdate)
    assert update.fee_per_unit == 800
    assert update.non_resident_fee_per_unit is None  # blank clears it
    assert update.resident_horizon_months == 3


def test_a_typo_in_the_fee_and_reversed_hours_are_named_with_translated_words() -> None:
    form = ResourceForm.of(RESOURCE)
    form.fee_per_unit, form.opens_at, form.closes_at, form.resident_horizon = "1200円", "18:00", "09:00", "30"
    _, errors = form.patch()
    assert errors == [
        ("closes_at", "closes_after_opens"),
        ("fee_per_unit", "bad_yen"),
        ("resident_horizon", "bad_horizon"),
    ]
    assert all(label in LABELS and message in LABELS for label, message in errors)


def test_a_closure_covers_whole_days_in_japan_time() -> None:
    body, errors = ClosureForm("2026-12-01", "2026-12-02", "床の補修", resource_id=7).body()
    assert errors == []
    closure = msgspec.json.decode(msgspec.json.encode(body), type=ClosureCreate)
    assert closure.start == datetime(2026, 12, 1, tzinfo=TOKYO)
    assert closure.end - closure.start == timedelta(days=2)
    assert ClosureForm("2026-12-02", "2026-12-01", "").body()[1] == [
        ("last_day", "last_after_first"),
        ("closure_reason", "required"),
    ]


def test_a_lottery_form_sends_a_valid_creation_and_refuses_a_close_in_the_past() -> None:
    form = LotteryForm(resource_id=7)
    body, errors = form.body()
    assert errors == []
    created = msgspec.json.decode(msgspec.json.encode(body), type=LotteryCreate)
    assert created.opens_at < created.closes_at
    form.closes_at = "2001-01-01 10:00"
    form.month = "2026-13"
    assert form.body()[1] == [("lottery_month", "bad_month"), ("lottery_closes", "closes_after_now")]


def test_a_server_refusal_names_the_field_in_the_persons_words() -> None:
    refused = ApiError(
        422,
        "Invalid",
        "https://musubi.jp/problems/validation",
        [FieldError(field="$.closesAt", message="Opening hours must be a whole number of units")],
    )
    assert field_errors(refused) == [("closes_at", "hours_whole_units")]
