"""The staff homes' view models (issue 23) against the real backend: nursery staff and facility staff."""

from __future__ import annotations

from datetime import timedelta

import httpx

from mobile.api import ApiError, MusubiApi
from mobile.state.admin import AUDIT_PAGE, AdminModel
from mobile.state.facility import FacilityModel
from mobile.state.nursery import NurseryModel, monday_of
from mobile.state.session import SessionModel
from tests.integration.childcare.test_childcare import Nursery, apply, in_days, reserve, years_before
from tests.integration.facilities.conftest import make_venue
from tests.support import PASSWORD, Actors


async def signed_in(base_url: str, email: str) -> tuple[MusubiApi, SessionModel]:
    api = MusubiApi(base_url)
    session = SessionModel(api, email=email, password=PASSWORD)
    assert await session.login(), session.error
    return api, session


async def test_nursery_staff_open_a_session_approve_a_child_and_run_the_day(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    staff = await actors.member("nursery", "staff", nursery_id)
    api, session = await signed_in(base_url, staff.email)
    assert session.home == "nursery"
    model = NurseryModel(api, nursery_id)
    await model.resync()
    assert (model.sessions, model.roster, model.applications, model.error) == ([], [], [], None)

    # A session on the day after tomorrow, morning, two places for 3–5.
    await model.shift_day(2)
    day = in_days(2)
    assert model.day == day
    assert model.week == monday_of(day)
    model.set_places("0", 0)
    model.set_places("1-2", -5)  # clamped: never a negative capacity on the form
    model.set_places("3-5", 2)
    assert model.capacity == {"0": 0, "1-2": 0, "3-5": 2}
    assert await model.create_session(), model.error
    [created] = model.sessions
    assert {p.band: p.capacity for p in created.places}["3-5"] == 2

    # A parent applies; the staff approve from the list, and the parent reserves.
    parent = await actors.resident()
    registered = await http.post(
        "/v1/children",
        json={
            "name": "佐藤 陽菜",
            "birthDate": str(years_before(day, 4, days=10)),
            "allergies": ["小麦"],
            "notes": "眼鏡",
        },
        headers=parent.headers,
    )
    assert registered.status_code == 201, registered.text
    child_id = registered.json()["id"]
    await apply(http, parent, child_id, Nursery(nursery_id, staff))
    await model.resync()
    [pending] = model.applications
    assert (pending.child_name, pending.age_years) == ("佐藤 陽菜", 4)
    assert await model.approve(child_id), model.error
    assert model.applications == []
    assert (await reserve(http, parent, created.id, child_id)).status_code == 201

    await model.resync()
    [roster_session] = model.roster
    [child] = [c for band in roster_session.bands for c in band.children]
    assert (child.name, child.allergies, child.notes, child.attendance) == (
        "佐藤 陽菜",
        ["小麦"],
        "眼鏡",
        "expected",
    )

    # Attendance is for the session day: before it, the server's refusal is shown and nothing changes.
    assert not await model.attend(child.reservation_id, "arrived")
    assert model.error is not None
    assert not isinstance(model.error, str)
    assert model.error.slug == "session-not-started"

    # Capacity: up by one; below the places taken the server refuses and nothing changes.
    assert await model.change_capacity(created.id, "3-5", 3), model.error
    assert {p.band: p.capacity for p in model.sessions[0].places}["3-5"] == 3
    assert not await model.change_capacity(created.id, "3-5", 0)
    assert model.error is not None
    assert not isinstance(model.error, str)
    assert model.error.slug == "capacity-below-places-taken"
    assert {p.band: p.capacity for p in model.sessions[0].places}["3-5"] == 3
    assert not await model.change_capacity(created.id, "3-5", -1)
    assert model.error == "places_not_negative"

    # Cancelling needs a reason; with one, the session and its reservation are cancelled.
    assert not await model.cancel_session(created.id, "  ")
    assert model.error == "reason_needed"
    assert await model.cancel_session(created.id, "水道工事 water works"), model.error
    assert model.sessions[0].cancelled_at is not None
    assert model.sessions[0].cancel_reason == "水道工事 water works"
    assert model.roster[0].cancelled_at is not None

    # The week moves on and back.
    await model.shift_week(1)
    assert model.week == monday_of(day) + timedelta(weeks=1)
    assert model.sessions == []
    await model.shift_week(-1)
    assert len(model.sessions) == 1
    await api.close()


async def test_nursery_staff_decline_an_application_only_with_a_reason(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    staff = await actors.member("nursery", "staff", nursery_id)
    nursery = Nursery(nursery_id, staff)
    api, _ = await signed_in(base_url, staff.email)
    model = NurseryModel(api, nursery_id)
    parent = await actors.resident()
    children = []
    for name in ("一郎", "二郎"):
        response = await http.post(
            "/v1/children", json={"name": name, "birthDate": str(years_before(in_days(0), 2))}, headers=parent.headers
        )
        assert response.status_code == 201, response.text
        children.append(response.json()["id"])
        await apply(http, parent, children[-1], nursery)
    await model.resync()
    assert [a.child_name for a in model.applications] == ["一郎", "二郎"]
    first = model.applications[0]
    assert not await model.decline(first.child_id, first.id, "")
    assert model.error == "reason_needed"
    assert len(model.applications) == 2
    assert await model.decline(first.child_id, first.id, "定員のため full"), model.error
    assert [a.child_name for a in model.applications] == ["二郎"]
    answered = await http.get(f"/v1/children/{first.child_id}/applications", headers=parent.headers)
    assert answered.json()[0]["declineReason"] == "定員のため full"
    await api.close()


async def test_facility_staff_record_payment_approve_reduction_and_cancel_on_behalf(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    venue = await make_venue(http, actors)
    bookers = [await actors.resident() for _ in range(3)]
    ids = []
    for booker, hour, reduction in zip(bookers, (10, 12, 14), (None, "child", None), strict=True):
        body = venue.slot(2, hour) | ({"reduction": reduction} if reduction else {})
        booked = await http.post("/v1/bookings", json=body, headers=booker.headers)
        assert booked.status_code == 201, booked.text
        ids.append(booked.json()["id"])
    api, session = await signed_in(base_url, venue.staff.email)
    assert session.home == "facility"
    organization = session.organization("municipality")
    assert organization is not None
    model = FacilityModel(api, organization)
    await model.resync()
    assert model.error is None
    assert [f.name for f in model.facilities] == ["水戸市総合体育館"]
    assert model.facility_id == venue.facility_id
    assert model.schedule == []  # today has none
    await model.shift_day(2)
    assert [e.id for e in model.schedule] == ids
    assert [e.payment for e in model.schedule] == ["due", "due", "due"]

    assert await model.record_payment(ids[0]), model.error
    assert (model.schedule[0].payment, model.schedule[0].status) == ("paid", "confirmed")
    assert not await model.record_payment(ids[0])  # twice: the server refuses, the schedule stays
    assert isinstance(model.error, ApiError)
    assert model.schedule[0].payment == "paid"

    assert model.schedule[1].reduction_approved_at is None
    assert await model.approve_reduction(ids[1]), model.error
    assert model.schedule[1].reduction_approved_at is not None

    assert not await model.no_show(ids[0])  # not started yet
    assert isinstance(model.error, ApiError)

    assert not await model.cancel(ids[2], " ")
    assert model.error == "reason_needed"
    assert model.schedule[2].status == "provisional"
    assert await model.cancel(ids[2], "床の補修 floor repair"), model.error
    assert model.schedule[2].status == "cancelled"
    await api.close()


async def test_a_person_with_two_memberships_has_two_homes_and_keeps_the_chosen_one(
    base_url: str, actors: Actors
) -> None:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    person = await actors.member("nursery", "staff", nursery_id)
    municipality = await actors.organization("municipality", municipality_id=1)
    await actors.grant(person, municipality, "staff")
    api, session = await signed_in(base_url, person.email)
    assert session.homes == ["nursery", "facility"]
    assert session.home == "nursery"
    session.chosen = "facility"
    assert session.home == "facility"
    session.chosen = "er"  # remembered from another account on this device: not theirs, so ignored
    assert session.home == "nursery"
    session.chosen = "facility"
    await session.logout()
    assert session.chosen is None
    assert session.homes == ["resident"]
    await api.close()


async def test_an_admin_invites_revokes_and_finds_who_read_a_childs_record(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    admin = await actors.member("nursery", "admin", nursery_id)
    staff = await actors.member("nursery", "staff", nursery_id)
    parent = await actors.resident()
    registered = await http.post(
        "/v1/children", json={"name": "高橋 湊", "birthDate": str(years_before(in_days(0), 3))}, headers=parent.headers
    )
    child_id = registered.json()["id"]
    await apply(http, parent, child_id, Nursery(nursery_id, staff))
    approved = await http.post(
        f"/v1/children/{child_id}/approvals", json={"nurseryId": nursery_id}, headers=staff.headers
    )
    assert approved.status_code == 201, approved.text
    assert (await http.get(f"/v1/children/{child_id}", headers=staff.headers)).status_code == 200

    api, session = await signed_in(base_url, admin.email)
    assert session.homes == ["nursery", "admin"]
    model = AdminModel(api, nursery_id, "nursery")
    await model.resync()
    assert model.error is None
    assert {m.email for m in model.members} == {admin.email, staff.email}

    assert not await model.invite()
    assert model.error == "email_needed"
    model.email = "new.staff@example.jp"
    assert await model.invite(), model.error
    assert [i.email for i in model.invitations] == ["new.staff@example.jp"]
    assert model.email == ""
    assert await model.revoke(model.invitations[0].id), model.error
    assert model.invitations == []

    await model.filter_audit("child", str(child_id))
    assert model.error is None
    assert model.audit
    assert {(e.subject_type, e.subject_id) for e in model.audit} == {("child", str(child_id))}
    assert staff.email in {e.actor_email for e in model.audit}
    await model.filter_audit("child", "999999")
    assert model.audit == []
    await api.close()


async def test_the_audit_viewer_pages_back_and_forth_and_downloads_the_filtered_csv(
    base_url: str, actors: Actors
) -> None:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    admin = await actors.member("nursery", "admin", nursery_id)
    api, _session = await signed_in(base_url, admin.email)
    model = AdminModel(api, nursery_id, "nursery")
    # Every read of the log is itself logged: enough reads make more than a page of entries.
    for _ in range(AUDIT_PAGE + 1):
        await model.resync()
    assert await model.filter_audit("audit", "")
    first = [e.id for e in model.audit]
    assert len(first) == AUDIT_PAGE
    assert model.more
    await model.older()
    assert model.page_number == 2
    assert model.audit
    assert max(e.id for e in model.audit) < min(first)
    await model.newer()
    assert model.page_number == 1
    # The newest page again (each look at the log is logged too, so it has grown by the two reads since).
    assert first[0] in {e.id for e in model.audit}

    model.actor = "someone"
    assert not await model.filter_audit()
    assert model.error == "actor_id_digits"
    model.actor = str(admin.account_id)
    csv = await model.audit_csv()
    assert csv is not None
    assert csv.startswith("\ufeff".encode())  # a BOM, for Excel
    assert csv.decode("utf-8-sig").splitlines()[0].startswith("id,at,actorAccountId")
    assert all(",audit.read," in line for line in csv.decode("utf-8-sig").splitlines()[1:])
    await api.close()
