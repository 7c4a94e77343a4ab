"""The client's view models against the real backend: HTTP, gateway and database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from mobile.api import ApiError, MusubiApi
from mobile.realtime import LiveConnection
from mobile.send_queue import FileStore, SendQueue
from mobile.state.er import ErModel
from mobile.state.paramedic import ParamedicModel
from mobile.state.session import SessionModel
from tests.cluster import Realtime
from tests.processes import free_port
from tests.support import PASSWORD, Actors


async def signed_in(base_url: str, email: str) -> MusubiApi:
    api = MusubiApi(base_url)
    session = SessionModel(api, email=email, password=PASSWORD)
    assert await session.login(), session.error
    return api


async def test_session_picks_the_home_by_role(base_url: str, actors: Actors) -> None:
    paramedic = await actors.member("fire_department", "paramedic")
    resident = await actors.resident()
    api = MusubiApi(base_url)
    session = SessionModel(api, email=paramedic.email, password="wrong password!")
    assert not await session.login()
    assert isinstance(session.error, ApiError)
    assert str(session.error) == "E-mail or password is wrong."
    # The form keeps the e-mail and clears only the password.
    assert (session.email, session.password) == (paramedic.email, "")
    session.password = PASSWORD
    assert await session.login()
    assert session.home == "paramedic"
    assert session.password == ""
    await session.logout()
    assert api.token is None
    session.email, session.password = resident.email, PASSWORD
    assert await session.login()
    assert session.home == "resident"
    await api.close()


async def test_offline_queue_sends_in_order_once_when_the_network_returns(
    base_url: str, actors: Actors, db: asyncpg.Pool, tmp_path: Path
) -> None:
    paramedic = await actors.member("fire_department", "paramedic")
    hospital = await actors.organization("hospital")
    online = await signed_in(base_url, paramedic.email)
    offline = MusubiApi(f"http://127.0.0.1:{free_port()}")  # nothing listens there: a dead zone
    offline.token = online.token
    store = tmp_path / "queue.json"
    model = ParamedicModel(offline, SendQueue(offline, FileStore(store)))
    model.complaint = "呼吸苦"
    model.selected = {hospital}
    await model.send()
    assert [item.status for item in model.queue.items] == ["queued", "queued"]
    assert model.case_id is None
    assert await db.fetchval("SELECT count(*) FROM ems_cases") == 0

    # The app restarts in the ambulance: the queue is still there, with the same keys.
    await model.queue.close()
    restored = await SendQueue.open(online, FileStore(store))
    assert [item.key for item in restored.items] == [item.key for item in model.queue.items]
    model.queue, model.api = restored, online
    await model.flush()
    assert [item.status for item in restored.items] == ["sent", "sent"]
    assert model.case_id is not None
    assert set(model.requests) == {hospital}

    # A reply lost on the way back: the same actions go out again and change nothing.
    for item in restored.items:
        item.status = "queued"
    await restored.flush()
    assert await db.fetchval("SELECT count(*) FROM ems_cases") == 1
    assert await db.fetchval("SELECT count(*) FROM ems_requests") == 1
    await restored.close()
    await online.close()


async def test_validation_failures_stop_retrying_and_say_why(base_url: str, actors: Actors) -> None:
    paramedic = await actors.member("fire_department", "paramedic")
    api = await signed_in(base_url, paramedic.email)
    queue = SendQueue(api)
    queue.add("open_case", "POST", "/v1/ems/cases", {"estimatedAge": 500, "sex": "male", "chiefComplaint": "x"})
    assert await queue.flush()
    assert queue.items[0].status == "failed"
    assert "$.estimatedAge" in (queue.items[0].error or "")
    await api.close()


async def test_paramedic_and_er_models_see_each_other_live(
    base_url: str, actors: Actors, realtime: Realtime, http: httpx.AsyncClient
) -> None:
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospitals = [await actors.organization("hospital", municipality_id=n) for n in (1, 2)]
    nurse = await actors.member("hospital", "er_staff", hospitals[0])
    crew_api, desk_api = await signed_in(base_url, paramedic.email), await signed_in(base_url, nurse.email)
    crew = ParamedicModel(crew_api, SendQueue(crew_api))
    desk = ErModel(desk_api)
    await desk.load()
    assert desk.inbox == []
    states: list[str] = []
    desk_live = LiveConnection(desk_api, desk.on_event, states.append, url_override=realtime.url)
    crew_live = LiveConnection(crew_api, crew.on_event, url_override=realtime.url)
    desk_live.start()
    crew_live.start()
    try:
        await _until(lambda: desk_live.state == "live" and crew_live.state == "live")
        await crew.load_hospitals()
        assert [h.hospital_id for h in crew.hospitals][:1] == [hospitals[0]]  # nearest first
        crew.selected = set(hospitals)
        await crew.send()
        await _until(lambda: bool(desk.inbox))
        assert desk.alert
        assert desk.chimes == 1  # one request to this hospital: one chime
        await desk.open_case(desk.inbox[0].case_id)
        assert desk.case is not None
        assert desk.case.vitals[0].spo2 == crew.spo2
        desk.acknowledge()
        assert await desk.answer(desk.inbox[0].request_id, accept=True)
        await _until(lambda: crew.requests[hospitals[0]].status == "accepted")
        assert await crew.confirm(hospitals[0])
        assert crew.requests[hospitals[0]].status == "selected"
        assert crew.requests[hospitals[1]].status == "released"
        assert "live" in states
    finally:
        await desk_live.stop()
        await crew_live.stop()
        await crew_api.close()
        await desk_api.close()


async def _until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """Wait until the live connections have moved the models on."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polling state that other tasks change
            await asyncio.sleep(0.05)


async def test_resident_model_books_cancels_and_reserves_childcare(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    from datetime import datetime, timedelta

    from mobile.state.lists import ResidentModel
    from schema.time import TOKYO
    from tests.integration.facilities.conftest import make_venue

    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    nursery = await actors.organization("nursery", municipality_id=1)
    teacher = await actors.member("nursery", "staff", nursery)
    parent = await actors.resident()
    api = await signed_in(base_url, parent.email)
    model = ResidentModel(api)
    model.day = model.childcare_day = datetime.now(TOKYO).date() + timedelta(days=3)
    model.facility_id = venue.facility_id  # the day opened from the week grid
    session = await http.post(
        f"/v1/nurseries/{nursery}/sessions",
        json={"date": str(model.day), "block": "morning", "capacity": {"3-5": 1}},
        headers=teacher.headers,
    )
    child = await api.post(
        "/v1/children", {"name": "佐藤 葵", "birthDate": str(model.day.replace(year=model.day.year - 4))}
    )
    applied = await api.post(f"/v1/children/{child['id']}/applications", {"nurseryId": nursery})
    approved = await http.post(
        f"/v1/children/{child['id']}/approvals", json={"nurseryId": nursery}, headers=teacher.headers
    )
    assert (applied["status"], approved.status_code) == ("pending", 201)
    await model.load()
    assert len(model.vacancies) == 12
    # The sheet first: nothing is booked until the resident confirms what they saw.
    await model.ask_to_book(model.vacancies[0])
    quote = model.quote(model.vacancies[0])
    assert (quote.resident, quote.non_resident) == (0, None)
    assert await model.confirm()
    assert model.confirming is None
    assert [b.status for b in model.bookings] == ["confirmed"]
    # The booked slot stays on screen (for the waitlist), no longer free.
    assert [v.state for v in model.vacancies].count("free") == 11
    assert len(model.vacancies) == 12
    booking = model.bookings[0]
    assert model.place(booking.resource_id) == model.place(model.vacancies[0].resource_id)
    assert model.place(booking.resource_id) == "水戸市総合体育館 · メインアリーナ"
    ics = await model.calendar()
    assert ics is not None
    assert ics.count(b"BEGIN:VEVENT") == 1
    assert f"{booking.start:%Y%m%d}".encode() in ics
    assert await model.cancel(booking.id)
    assert model.bookings == []
    [mark] = model.childcare[child["id"]]
    assert (mark.session_id, mark.mark) == (session.json()["id"], "△")
    assert await model.reserve(child["id"], mark.session_id)
    assert model.childcare[child["id"]][0].mark == "×"
    assert [r.status for r in model.reservations] == ["reserved"]
    assert not await model.reserve(child["id"], mark.session_id)
    assert model.error
    assert await model.cancel_reservation(model.reservations[0].id)
    assert model.reservations == []
    await api.close()


async def test_intake_models_from_request_to_placement(base_url: str, actors: Actors, http: httpx.AsyncClient) -> None:
    from mobile.state.intake import IntakeModel

    center = await actors.organization("guidance_center")
    caseworker = await actors.member("guidance_center", "caseworker", center)
    shelter, other, unasked = [await actors.organization("shelter") for _ in range(3)]
    staff = await actors.member("shelter", "staff", shelter)
    other_staff = await actors.member("shelter", "staff", other)
    unasked_staff = await actors.member("shelter", "staff", unasked)
    for owner, who in ((shelter, staff), (other, other_staff), (unasked, unasked_staff)):
        for category in ("0-5:any", "6-12:female"):
            await http.put(f"/v1/shelters/{owner}/units/{category}", json={"capacity": 2}, headers=who.headers)
    worker_api, staff_api = await signed_in(base_url, caseworker.email), await signed_in(base_url, staff.email)
    other_api = await signed_in(base_url, other_staff.email)
    worker = IntakeModel(worker_api)
    desk = IntakeModel(staff_api, role="shelter", shelter_id=shelter)
    other_desk = IntakeModel(other_api, role="shelter", shelter_id=other)
    for model in (worker, desk, other_desk):
        await model.load()
    assert worker.shelters == sorted([shelter, other, unasked])

    # A 3-year-old boy: the age decides the band, and small children share a unit here.
    worker.sex = "male"
    await worker.set_age(3)
    assert worker.category == "0-5:any"
    await worker.set_age(9)
    assert worker.category == "6-12:male"  # no shared 6-12 unit anywhere: the boys' one, by default
    worker.sex = "female"
    assert worker.category == "6-12:female"
    worker.sex = "male"
    await worker.set_age(3)
    assert worker.free_beds(shelter) == 2
    worker.urgency = "emergency"
    worker.needs = {"allergy_care"}
    assert not await worker.send_request()  # nobody chosen: nothing sent
    assert worker.error == "choose_shelters"
    worker.choose(shelter, True)
    worker.choose(other, True)
    assert await worker.send_request()
    [request] = worker.requests
    assert (request.age_years, request.sex, request.category, request.urgency, request.needs) == (
        3, "male", "0-5:any", "emergency", ["allergy_care"],
    )  # fmt: skip
    assert sorted(t.shelter_id for t in request.targets or []) == sorted([shelter, other])

    # The other shelter declines: first the question why, then the reason goes out as a code.
    await other_desk.load()
    assert not await other_desk.answer(request.id, accept=False)
    assert other_desk.declining == request.id
    assert await other_desk.answer(request.id, accept=False, reason="no_beds")
    assert other_desk.declining is None
    await desk.load()
    assert desk.requests[0].child is None
    assert await desk.answer(request.id, accept=True)
    await worker.load()
    answers = {t.shelter_id: (t.status, t.reason) for t in worker.requests[0].targets or []}
    assert answers == {shelter: ("accepted", None), other: ("declined", "no_beds")}
    assert worker.state_of(worker.requests[0]) == "accepted"
    assert other_desk.state_of(other_desk.requests[0]) == "declined"

    assert not await worker.place(request.id, shelter)  # no name yet: nothing sent
    worker.names[(request.id, shelter)] = "高橋 陽太"
    worker.births[(request.id, shelter)] = "2023-05-05"
    assert await worker.place(request.id, shelter)
    [placed] = worker.in_care
    assert placed.shelter_id == shelter
    assert placed.minutes_to_placement is not None
    await worker.show_state("placed")
    assert [r.id for r in worker.shown] == [request.id]
    await desk.load()
    assert (child := desk.requests[0].child) is not None
    assert child.name == "高橋 陽太"
    assert desk.free_beds(shelter, "0-5:any") == 1
    [in_care] = desk.in_care
    assert in_care.child is not None
    assert in_care.child.name == "高橋 陽太"
    await desk.ask_discharge(in_care.placement_id)
    await desk.keep_in_care()
    assert not await desk.confirm_discharge()  # "no" closed the question: nothing sent
    assert len(desk.in_care) == 1
    await desk.ask_discharge(in_care.placement_id)
    assert await desk.confirm_discharge()
    assert desk.in_care == []
    assert desk.free_beds(shelter, "0-5:any") == 2
    assert await desk.set_beds(shelter, "6-12:female", 3)
    assert desk.free_beds(shelter, "6-12:female") == 3
    assert await desk.nudge_beds("6-12:female", -1)
    assert [c.capacity for c in desk.categories if c.category == "6-12:female"] == [2]
    for api in (worker_api, staff_api, other_api):
        await api.close()


async def test_resident_takes_a_waitlist_offer_in_one_tap(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    from mobile.state.lists import ResidentModel
    from tests.integration.facilities.conftest import make_venue

    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    holder, waiter = await actors.resident(), await actors.resident()
    slot = venue.slot(4, 10)
    booking = (await http.post("/v1/bookings", json=slot, headers=holder.headers)).json()
    assert (await http.post("/v1/waitlist", json=slot, headers=waiter.headers)).status_code == 201
    await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=holder.headers)
    api = await signed_in(base_url, waiter.email)
    model = ResidentModel(api)
    await model.load()
    [held] = model.bookings
    assert held.status == "held"
    assert await model.take_hold(held)
    assert [(b.id, b.status) for b in model.bookings] == [(held.id, "confirmed")]
    await api.close()


async def test_resident_confirms_a_paid_slot_with_a_reduction_and_waits_for_a_booked_one(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    from datetime import datetime, timedelta

    from mobile.state.lists import ResidentModel
    from schema.time import TOKYO, local_hhmm
    from tests.integration.facilities.conftest import make_venue

    venue = await make_venue(http, actors)  # ¥1000 an hour, ¥1500 for non-residents, 減免 child 50 %
    other, me = await actors.resident(), await actors.resident()
    taken = venue.slot(2, 10)
    assert (await http.post("/v1/bookings", json=taken, headers=other.headers)).status_code == 201
    api = await signed_in(base_url, me.email)
    model = ResidentModel(api)
    await model.load()
    await model.open_day(venue.facility_id, datetime.now(TOKYO).date() + timedelta(days=2))
    states = {local_hhmm(v.start): v.state for v in model.vacancies}
    assert states["10:00"] == "booked"  # shown, not hidden
    free = next(v for v in model.vacancies if v.state == "free")
    await model.ask_to_book(free)
    quote = model.quote(free)
    assert (quote.resident, quote.non_resident, quote.reductions) == (1000, 1500, ["child", "disability"])
    assert quote.cancel_by == free.start - timedelta(hours=24)
    model.reduction = "child"
    quote = model.quote(free)
    assert (quote.resident, quote.non_resident) == (500, 750)
    assert await model.confirm()
    [booking] = model.bookings
    # The server picks the rate from the registered address (this test resident has none): the
    # sheet showed both, and the fee charged is one of them, the reduction applied.
    assert booking.fee == quote.non_resident
    assert (booking.reduction, booking.status) == ("child", "provisional")
    assert booking.pay_by is not None

    booked = next(v for v in model.vacancies if v.state == "booked" and local_hhmm(v.start) == "10:00")
    assert await model.join_waitlist(booked)
    assert (booked.resource_id, booked.start) in model.waiting
    await api.close()


async def test_resident_applies_to_a_lottery_from_the_model(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    from datetime import datetime, time

    from mobile.state.lists import ResidentModel
    from schema.time import TOKYO
    from tests.integration.facilities.conftest import make_venue
    from tests.integration.lottery.test_lottery import create_lottery

    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue)
    person = await actors.resident()
    api = await signed_in(base_url, person.email)
    model = ResidentModel(api)
    await model.load()
    [shown] = model.lotteries
    assert shown.id == lottery["id"]
    assert [(r.facility_name, r.name) for r in shown.resources] == [("水戸市総合体育館", "メインアリーナ")]
    assert not await model.apply(shown)  # nothing chosen yet: nothing sent
    assert model.lottery_form(shown).problem == "add_a_preference"
    twelfth = shown.month.replace(day=12)
    model.choose_lottery_day(shown, twelfth)
    model.choose_lottery_start(shown, time(9))
    assert await model.add_lottery_preference(shown)
    assert not await model.add_lottery_preference(shown)  # the same slot again
    assert (model.lottery_form(shown).problem, model.lottery_form(shown).clash) == ("same_slot_twice", 1)
    model.choose_lottery_start(shown, time(20))
    assert await model.add_lottery_preference(shown)
    assert await model.apply(shown), model.lottery_form(shown).failure
    [mine] = model.applications
    assert mine.state == "open"
    assert [(p.rank, p.start) for p in mine.preferences] == [
        (1, datetime(shown.month.year, shown.month.month, 12, 9, tzinfo=TOKYO)),
        (2, datetime(shown.month.year, shown.month.month, 12, 20, tzinfo=TOKYO)),
    ]
    assert [r.name for r in mine.resources] == ["メインアリーナ"]
    assert model.applied_to(shown.id) == [mine]
    assert not model.filling_in(shown)  # received: the form folds away until asked for again
    await model.apply_again(shown)
    assert model.filling_in(shown)
    assert model.lottery_form(shown).preferences == []  # a fresh form for the next application
    await api.close()


async def test_paramedic_photo_waits_for_the_case_then_uploads(base_url: str, actors: Actors, db: asyncpg.Pool) -> None:
    from tests.integration.ems.conftest import PNG

    paramedic = await actors.member("fire_department", "paramedic")
    hospital = await actors.organization("hospital")
    api = await signed_in(base_url, paramedic.email)
    model = ParamedicModel(api, SendQueue(api))
    await model.attach("okusuri-techo.png", PNG)
    assert model.photos_pending  # no case yet
    model.selected = {hospital}
    await model.send()
    assert model.photos_sent == ["okusuri-techo.png"]
    assert model.photos_pending == []
    assert await db.fetchval("SELECT media_type FROM ems_attachments") == "image/png"
    await model.attach("not-a-photo.png", b"%PDF-1.7")
    assert model.photos_pending == []
    assert "JPEG or PNG" in str(model.error)
    await api.close()


async def test_resident_model_searches_another_town_next_week_opens_a_day_and_books(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    from mobile.state.lists import ResidentModel
    from mobile.state.resident import SearchFilters, cell_state, today
    from tests.integration.facilities.test_availability import make_court

    court = await make_court(http, actors, 24, feePerUnit=0, nonResidentFeePerUnit=None)  # 坂東市
    person = await actors.resident()
    await actors.lives_in(person, 1)
    api = await signed_in(base_url, person.email)
    model = ResidentModel(api)
    await model.start_search(None)
    assert model.filters == SearchFilters(municipality_id=1)  # their own town first
    assert len(model.municipalities) == 44
    await model.set_filters(municipality_id=24, kind="court", week=1)
    [found] = [f for f in model.week if f.id == court.facility_id]
    assert found.days[0].date == model.week_from
    assert all(cell_state(d, today()) == "free" for d in found.days)
    monday = model.week_from
    await model.open_day(court.facility_id, monday)
    assert len(model.vacancies) == 12
    await model.ask_to_book(model.vacancies[0])
    assert await model.confirm(), model.error
    assert [b.facility_id for b in model.bookings] == [court.facility_id]
    [found] = [f for f in model.week if f.id == court.facility_id]
    assert (found.days[0].free, found.days[0].total) == (11, 12)
    # Remembered as the device stores it, and back.
    assert SearchFilters.decode(model.filters.encode()) == model.filters
    assert SearchFilters.decode('{"municipality_id": 1, "kind": "casino", "week": 0}') is None
    await api.close()


async def test_parent_registers_a_child_and_applies_to_a_nursery_found_by_search(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    from datetime import timedelta

    from mobile.state.lists import ResidentModel
    from mobile.state.resident import today

    nursery = await actors.organization("nursery", "うしく保育園", municipality_id=15)
    teacher = await actors.member("nursery", "staff", nursery)
    day = today() + timedelta(days=4)
    opened = await http.post(
        f"/v1/nurseries/{nursery}/sessions",
        json={"date": str(day), "block": "full_day", "capacity": {"1-2": 3}},
        headers=teacher.headers,
    )
    assert opened.status_code == 201, opened.text
    parent = await actors.resident()
    api = await signed_in(base_url, parent.email)
    model = ResidentModel(api)
    await model.start_search(None)
    model.child_name, model.child_birth = "山田 花", str(day.replace(year=day.year - 2))
    assert await model.register_child(), model.error
    [child] = model.children
    await model.set_filters(municipality_id=15)
    model.childcare_day = day
    await model.resync()
    [session] = model.childcare[child.id]
    assert (session.nursery_name, session.block, session.mark) == ("うしく保育園", "full_day", "◯")
    assert await model.apply_to_nursery(child.id, nursery), model.error
    assert model.applications_to[child.id] == {nursery: "pending"}
    assert (model.child_name, model.child_birth) == ("", "")
    await api.close()
