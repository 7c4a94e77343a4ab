"""The facility staff's desks (issue 23) through their view model against the real backend: closing
a booked court needs the explicit choice, closures show on the day, a refused edit names the field,
and a lottery cannot be drawn before its close but can be called off with a reason."""

from __future__ import annotations

from datetime import time

import httpx

from mobile.api import ApiError
from mobile.state.facility import ClosureForm, FacilityModel, LotteryForm, ResourceForm
from tests.integration.facilities.conftest import make_venue
from tests.integration.mobile.test_staff_homes import signed_in
from tests.support import Actors


async def staff_desk(base_url: str, http: httpx.AsyncClient, actors: Actors) -> tuple[FacilityModel, int, int]:
    venue = await make_venue(http, actors)
    booker = await actors.resident()
    booked = await http.post("/v1/bookings", json=venue.slot(3, 10), headers=booker.headers)
    assert booked.status_code == 201, booked.text
    api, session = await signed_in(base_url, venue.staff.email)
    organization = session.organization("municipality")
    assert organization is not None
    model = FacilityModel(api, organization)
    await model.resync()
    assert model.error is None
    return model, venue.resource_id, booked.json()["id"]


async def test_closing_a_booked_court_needs_the_choice_and_cancelling_tells_the_booker(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    model, resource_id, booking_id = await staff_desk(base_url, http, actors)
    await model.show("resources")
    assert not await model.close_resource(resource_id, "改修工事", None)
    assert model.error == "choose_bookings"
    assert not await model.close_resource(resource_id, "改修工事", False)
    assert isinstance(model.error, ApiError)
    assert model.error.slug == "resource-has-bookings"
    assert model.resources[0].closed_at is None

    assert await model.close_resource(resource_id, "改修工事", True), model.error
    assert model.resources[0].closed_at is not None
    assert model.resources[0].closed_reason == "改修工事"
    await model.show("schedule")
    await model.shift_day(3)
    [entry] = model.schedule
    assert (entry.id, entry.status, entry.end_reason) == (booking_id, "cancelled", "改修工事")
    csv = await model.schedule_csv()  # the week from the day shown, for Excel at the counter
    assert csv is not None
    assert csv.startswith("\ufeff".encode())
    assert "改修工事" in csv.decode("utf-8-sig")

    assert await model.reopen_resource(resource_id), model.error
    assert model.resources[0].closed_at is None
    assert model.notice == "notice_reopened"
    await model.api.close()


async def test_a_closure_shows_on_its_day_and_can_be_lifted(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    model, resource_id, _ = await staff_desk(base_url, http, actors)
    await model.shift_day(5)
    await model.show("closures")
    await model.new_closure()
    assert model.closure_form is not None
    model.closure_form.reason = "床の補修"
    model.closure_form.resource_id = resource_id
    assert await model.add_closure(), model.error
    [closure] = model.closures
    assert (closure.resource_id, closure.reason) == (resource_id, "床の補修")
    await model.show("schedule")
    assert [c.id for c in model.day_closures] == [closure.id]
    await model.shift_day(1)
    assert model.day_closures == []

    await model.show("closures")
    assert await model.lift_closure(closure.id), model.error
    assert model.closures == []  # lifted ones are not listed
    model.closure_form = ClosureForm(first_day="2026-01-02", last_day="2026-01-01", reason="x")
    assert not await model.add_closure()
    assert model.form_errors == [("last_day", "last_after_first")]
    await model.api.close()


async def test_a_refused_edit_names_the_field_and_a_good_one_is_saved(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    model, _, _ = await staff_desk(base_url, http, actors)
    await model.show("resources")
    await model.edit(model.resources[0])
    assert isinstance(model.editing, ResourceForm)
    model.editing.opens_at = "09:30"  # 11.5 hours of one-hour units: the server refuses
    assert not await model.save_resource()
    assert model.form_errors == [("closes_at", "hours_whole_units")]
    assert model.editing is not None  # the typing stays for the fix
    model.editing.opens_at = "10:00"
    model.editing.fee_per_unit = "1,200"
    model.editing.resident_horizon = "3"
    assert await model.save_resource(), model.error
    assert model.editing is None
    resource = model.resources[0]
    assert (resource.opens_at, resource.fee_per_unit, resource.resident_horizon_months) == (time(10), 1200, 3)
    await model.api.close()


async def test_a_lottery_is_not_drawn_before_its_close_and_can_be_called_off(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    model, resource_id, _ = await staff_desk(base_url, http, actors)
    await model.show("lotteries")
    await model.new_lottery()
    assert isinstance(model.lottery_form, LotteryForm)
    assert model.lottery_form.resource_id == resource_id
    assert await model.create_lottery(), model.error
    [lottery] = model.lotteries
    assert (lottery.state, lottery.applications, lottery.resource_ids) == ("open", 0, [resource_id])
    assert not await model.draw(lottery.id)
    assert isinstance(model.error, ApiError)
    assert model.error.slug == "lottery-not-closed"
    assert not await model.cancel_lottery(lottery.id, "")
    assert model.error == "reason_needed"
    assert await model.cancel_lottery(lottery.id, "体育館の改修のため"), model.error
    assert model.lotteries[0].state == "cancelled"
    assert model.verification_url(lottery.id).endswith(f"/v1/lotteries/{lottery.id}")
    await model.api.close()
