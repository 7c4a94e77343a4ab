"""What a lottery tells an applicant about its resources (issue 19): the facility's and the resource's
names, the opening hours and the booking unit, so a phone can offer only slots the server accepts;
and the applicant's own applications name them too."""

from __future__ import annotations

import httpx

from tests.integration.facilities.conftest import make_venue
from tests.integration.lottery.test_lottery import apply, create_lottery
from tests.support import Actors

COURT = {
    "name": "第1コート",
    "unitMinutes": 30,
    "opensAt": "08:30:00",
    "closesAt": "20:00:00",
    "feePerUnit": 800,
    "cancelDeadlineHours": 24,
    "paymentDeadlineHours": 72,
    "waitlistHoldMinutes": 30,
}


async def test_lotteries_name_their_resources_with_opening_hours_and_unit(
    http: httpx.AsyncClient, actors: Actors
) -> None:
    venue = await make_venue(http, actors)
    court = await http.post(f"/v1/facilities/{venue.facility_id}/resources", json=COURT, headers=venue.staff.headers)
    assert court.status_code == 201, court.text
    court_id = court.json()["id"]
    lottery = await create_lottery(http, venue, resourceIds=[court_id, venue.resource_id])
    expected = [
        {"id": venue.resource_id, "name": "メインアリーナ", "facilityId": venue.facility_id,
         "facilityName": "水戸市総合体育館", "opensAt": "09:00:00", "closesAt": "21:00:00", "unitMinutes": 60},
        {"id": court_id, "name": "第1コート", "facilityId": venue.facility_id,
         "facilityName": "水戸市総合体育館", "opensAt": "08:30:00", "closesAt": "20:00:00", "unitMinutes": 30},
    ]  # fmt: skip
    assert lottery["resources"] == expected
    assert [r["id"] for r in lottery["resources"]] == lottery["resourceIds"]

    [listed] = [item for item in (await http.get("/v1/lotteries", params={"state": "open"})).json()
                if item["id"] == lottery["id"]]  # fmt: skip
    assert listed["resources"] == expected
    assert listed["perUserCap"] == 2
    assert (await http.get(f"/v1/lotteries/{lottery['id']}")).json()["resources"] == expected
    overview = await http.get(f"/v1/organizations/{lottery['organizationId']}/lotteries", headers=venue.staff.headers)
    assert [item["resources"] for item in overview.json()] == [expected]

    person = await actors.resident()
    assert (await apply(http, person, lottery["id"], venue, (10, 10), (11, 9))).status_code == 201
    [mine] = (await http.get("/v1/me/lottery-applications", headers=person.headers)).json()
    assert mine["resources"] == expected
    assert mine["month"] == lottery["month"]
    assert [p["rank"] for p in mine["preferences"]] == [1, 2]


async def test_a_cancelled_lottery_still_names_the_resources_it_had(http: httpx.AsyncClient, actors: Actors) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue)
    cancelled = await http.post(
        f"/v1/lotteries/{lottery['id']}/cancel", json={"reason": "改修工事"}, headers=venue.staff.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["resourceIds"] == [venue.resource_id]
    assert [(r["id"], r["name"]) for r in cancelled.json()["resources"]] == [(venue.resource_id, "メインアリーナ")]
