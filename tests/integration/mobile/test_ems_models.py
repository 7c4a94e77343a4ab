"""The paramedic's and the ER's view models for the whole case (issue 19), against the real backend:
every field of the case, later vitals, the timeline, a new case, and the ER's patients on the way."""

from __future__ import annotations

import httpx

from mobile.send_queue import SendQueue
from mobile.state.er import ErModel
from mobile.state.paramedic import ParamedicModel, as_list
from tests.integration.ems.conftest import PNG
from tests.integration.mobile.test_view_models import signed_in
from tests.support import Actors


def test_allergies_and_medications_are_typed_as_one_line_and_sent_as_lists() -> None:
    assert as_list("ペニシリン、卵, そば ;  ") == ["ペニシリン", "卵", "そば"]
    assert as_list("  ") == []


async def test_the_whole_case_later_vitals_timeline_and_a_new_case(
    base_url: str, actors: Actors, http: httpx.AsyncClient
) -> None:
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospital = await actors.organization("hospital", municipality_id=1)
    nurse = await actors.member("hospital", "er_staff", hospital)
    crew_api, desk_api = await signed_in(base_url, paramedic.email), await signed_in(base_url, nurse.email)
    try:
        crew = ParamedicModel(crew_api, SendQueue(crew_api))
        await crew.load_hospitals()
        crew.complaint, crew.allergies, crew.medications = "呼吸苦", "ペニシリン、卵", "ワルファリン"
        crew.step("eta", 1)
        crew.step("temp10", 3)
        crew.step("rr", -2)
        crew.selected = {hospital}
        await crew.send()
        assert crew.case is not None
        assert crew.case.allergies == ["ペニシリン", "卵"]
        assert crew.case.medications == ["ワルファリン"]
        assert crew.case.eta_minutes == 11
        first = crew.case.vitals[0]
        assert (first.sbp, first.dbp, first.hr, first.rr, first.spo2, first.temp) == (120, 80, 80, 14, 98, 36.8)
        # Asking again asks nobody twice.
        await crew.send()
        assert crew.error == "select_hospital"
        assert len(crew.case.requests) == 1

        desk = ErModel(desk_api, hospital_id=hospital)
        await desk.load()
        assert desk.incoming == []  # accepted is not yet "on the way"
        assert await desk.answer(desk.inbox[0].request_id, accept=True)
        await crew.refresh()
        assert await crew.confirm(hospital)
        crew.step("hr", 2)
        await crew.add_vitals()
        assert [v.hr for v in crew.case.vitals] == [80, 90]
        assert [(e.kind, e.status) for e in crew.timeline()] == [
            ("vitals", None),
            ("sent", None),
            ("answer", "accepted"),
            ("vitals", None),
        ]
        photo = await http.post(
            f"/v1/ems/cases/{crew.case_id}/attachments",
            content=PNG,
            headers={**paramedic.headers, "content-type": "image/png"},
        )
        assert photo.status_code == 201

        await desk.load()
        [patient] = desk.incoming
        assert patient.eta_minutes == 11
        assert [v.hr for v in patient.vitals] == [80, 90]
        assert desk.photos == {photo.json()["id"]: PNG}
        assert desk.board_status("emergency") is None
        assert await desk.set_board(hospital, "limited")
        assert desk.board_status("emergency") == "limited"

        # The next patient: a fresh form; the hospitals stay, the last case's answers go.
        crew.new_case()
        assert (crew.case_id, crew.case, crew.requests, crew.allergies, crew.eta) == (None, None, {}, "", 10)
        assert crew.queued == []
        assert crew.timeline() == []
        assert [h.hospital_id for h in crew.hospitals] == [hospital]
    finally:
        await crew_api.close()
        await desk_api.close()
