"""Near me in the view models against the real backend: the resident's search nearest first and
paged by the server's own cursor, a refused position that keeps the municipality, and the
paramedic's distances and case location following the device's position."""

from __future__ import annotations

import httpx

from mobile.send_queue import SendQueue
from mobile.state.lists import SEARCH_PAGE, ResidentModel
from mobile.state.paramedic import ParamedicModel
from mobile.state.resident import SearchFilters
from tests.integration.facilities.test_availability_near import HERE, make_gym
from tests.integration.mobile.test_view_models import signed_in
from tests.support import Actors


async def test_resident_near_me_lists_nearest_first_pages_on_and_a_refusal_keeps_the_town(
    base_url: str, http: httpx.AsyncClient, actors: Actors
) -> None:
    far = await make_gym(http, actors, "遠いスタジオ", HERE[0] + 0.05, HERE[1])
    near = await make_gym(http, actors, "近いスタジオ", HERE[0] + 0.001, HERE[1])
    for n in range(SEARCH_PAGE - 1):  # more than a page, so "show more" follows the server's cursor
        await make_gym(http, actors, f"スタジオ {n}", HERE[0] - 0.1 * (n + 1), HERE[1])  # 11 km and on
    resident = await actors.resident()
    api = await signed_in(base_url, resident.email)
    model = ResidentModel(api)
    await model.start_search(SearchFilters(municipality_id=2))

    await model.search_near(None)  # the browser said no
    assert model.error == "location_unavailable"
    assert model.near is None
    assert model.filters.municipality_id == 2

    await model.search_near(HERE)
    assert model.error is None
    assert [f.id for f in model.week[:2]] == [near, far]
    assert 100 <= model.week[0].distance_m <= 125
    assert model.filters.municipality_id == 2  # kept for when the person goes back to their town
    assert model.more_facilities
    await model.show_more()  # the next page follows on by distance
    assert model.error is None
    assert len(model.week) > SEARCH_PAGE
    distances = [f.distance_m for f in model.week]
    assert distances == sorted(distances)
    assert len({f.id for f in model.week}) == len(model.week)

    await model.set_filters(municipality_id=1)  # a town chosen: no longer near
    assert model.near is None
    assert all(f.distance_m is None and f.municipality_id == 1 for f in model.week)
    await api.close()


async def test_paramedic_distances_and_case_location_follow_the_device(base_url: str, actors: Actors) -> None:
    paramedic = await actors.member("fire_department", "paramedic")
    hitachi_hospital = await actors.organization("hospital", "日立の病院", municipality_id=2)
    hitachi = await actors.db.fetchrow("SELECT lat, lon FROM municipalities WHERE id = 2")
    assert hitachi is not None
    api = await signed_in(base_url, paramedic.email)
    model = ParamedicModel(api, SendQueue(api))
    await model.load_hospitals()
    assert model.located is None
    fixed = next(h.km for h in model.hospitals if h.hospital_id == hitachi_hospital)
    assert fixed is not None
    assert fixed > 20  # from the Mito point

    await model.use_position(None)
    assert model.located is False
    assert model.location == (36.366, 140.471)

    await model.use_position((hitachi["lat"], hitachi["lon"]))
    assert model.located is True
    assert next(h.km for h in model.hospitals if h.hospital_id == hitachi_hospital) == 0.0
    assert model.case_body()["location"] == {"lat": hitachi["lat"], "lon": hitachi["lon"]}
    model.new_case()
    assert model.located is True  # the next patient is where the crew stands
    await api.close()
