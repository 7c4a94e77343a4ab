"""Near me in resident search: GET /v1/facilities/availability?near=lat,lon lists the nearest
facilities first with their distance, pages by (distance, id), and refuses a point not on the earth."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx

from backend.facilities.slots import TOKYO
from tests.support import Actors, assert_problem

# Far from every other test's facilities (they sit around Mito, 36.4 N 140.4 E): Chichijima.
HERE = (27.0944, 142.1919)


async def make_gym(http: httpx.AsyncClient, actors: Actors, name: str, lat: float, lon: float) -> int:
    town = await actors.organization("municipality", municipality_id=1)
    staff = await actors.member("municipality", "staff", town)
    facility = await http.post(
        "/v1/facilities",
        json={"organizationId": town, "name": name, "kind": "studio", "address": "小笠原", "lat": lat, "lon": lon},
        headers=staff.headers,
    )
    assert facility.status_code == 201, facility.text
    body = {"name": "ホール", "unitMinutes": 60, "opensAt": "09:00", "closesAt": "12:00", "feePerUnit": 0,
            "cancelDeadlineHours": 24}  # fmt: skip
    resource = await http.post(f"/v1/facilities/{facility.json()['id']}/resources", json=body, headers=staff.headers)
    assert resource.status_code == 201, resource.text
    return int(facility.json()["id"])


def today() -> date:
    return datetime.now(TOKYO).date()


async def test_near_lists_the_nearest_first_with_metres_and_pages_by_distance(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    # Made far first, near last: id order is the opposite of distance order.
    far = await make_gym(http, actors, "遠いスタジオ", HERE[0] + 0.05, HERE[1])  # ~5.6 km north
    middle = await make_gym(http, actors, "中くらいのスタジオ", HERE[0], HERE[1] + 0.02)  # ~2 km east
    near = await make_gym(http, actors, "近いスタジオ", HERE[0] + 0.001, HERE[1])  # ~111 m
    params: dict[str, Any] = {"from": str(today()), "days": 1, "kind": "studio", "near": f"{HERE[0]},{HERE[1]}"}

    listed = await http.get("/v1/facilities/availability", params=params)
    assert listed.status_code == 200, listed.text
    first_three = listed.json()[:3]
    assert [f["id"] for f in first_three] == [near, middle, far]
    metres = [f["distanceM"] for f in first_three]
    assert 100 <= metres[0] <= 125, metres
    assert 1_900 <= metres[1] <= 2_100, metres
    assert 5_400 <= metres[2] <= 5_700, metres
    assert [len(f["days"]) for f in first_three] == [1, 1, 1]

    # Page by page, two at a time: the same order, each page following on from the last one's distance.
    seen: list[int] = []
    response = await http.get("/v1/facilities/availability", params={**params, "limit": 2})
    while True:
        assert response.status_code == 200, response.text
        distances = [f["distanceM"] for f in response.json()]
        assert distances == sorted(distances)
        seen += [f["id"] for f in response.json()]
        if len(seen) >= 3 or "next" not in response.links:
            break
        response = await http.get(response.links["next"]["url"])
    assert seen[:3] == [near, middle, far]

    # Without a point: by id, and no distance.
    plain = await http.get("/v1/facilities/availability", params={"from": str(today()), "days": 1, "kind": "studio"})
    assert plain.status_code == 200, plain.text
    ids = [f["id"] for f in plain.json()]
    assert ids == sorted(ids)
    assert all(f["distanceM"] is None for f in plain.json())


async def test_a_point_not_on_the_earth_or_a_cursor_of_the_other_order_is_a_400(http: httpx.AsyncClient) -> None:
    base = {"from": str(today()), "days": 1}
    for bad in ("36.4", "36.4,140.5,1", "north,east", "91,140", "36.4,181", "nan,140", "36.4,inf", ""):
        response = await http.get("/v1/facilities/availability", params={**base, "near": bad})
        problem = assert_problem(response, 400, "bad-location")
        assert problem["errors"][0]["field"] == "near", problem
    # A by-id cursor does not continue a by-distance list.
    by_id = await http.get("/v1/facilities/availability", params={**base, "limit": 1})
    assert by_id.status_code == 200, by_id.text
    if "next" in by_id.links:
        cursor = httpx.URL(by_id.links["next"]["url"]).params["cursor"]
        mixed = await http.get("/v1/facilities/availability", params={**base, "near": "36.4,140.5", "cursor": cursor})
        assert_problem(mixed, 400, "bad-cursor")
    edge = await http.get("/v1/facilities/availability", params={**base, "near": "-90,180"})
    assert edge.status_code == 200, edge.text
