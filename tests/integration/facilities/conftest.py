from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from backend.facilities.slots import TOKYO
from tests.support import Actor, Actors


@dataclass
class Venue:
    facility_id: int
    resource_id: int
    staff: Actor
    municipality_id: int

    def slot(self, days_ahead: int, hour: int, units: int = 1, minute: int = 0) -> dict[str, Any]:
        """A booking body for `units` hours from hour:minute JST, `days_ahead` days from today (JST)."""
        day = datetime.now(TOKYO).date() + timedelta(days=days_ahead)
        start = datetime.combine(day, time(hour, minute), TOKYO)
        return {
            "resourceId": self.resource_id,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=units)).isoformat(),
        }

    @staticmethod
    def day(days_ahead: int) -> date:
        return datetime.now(TOKYO).date() + timedelta(days=days_ahead)


async def make_venue(http: httpx.AsyncClient, actors: Actors, **resource: Any) -> Venue:
    municipality = await actors.organization("municipality", municipality_id=1)
    staff = await actors.member("municipality", "staff", municipality)
    facility = await http.post(
        "/v1/facilities",
        json={
            "organizationId": municipality,
            "name": "水戸市総合体育館",
            "kind": "gym",
            "address": "水戸市緑町",
            "lat": 36.37,
            "lon": 140.45,
        },
        headers=staff.headers,
    )
    assert facility.status_code == 201, facility.text
    body = {
        "name": "メインアリーナ",
        "unitMinutes": 60,
        "opensAt": "09:00:00",
        "closesAt": "21:00:00",
        "feePerUnit": 1000,
        "nonResidentFeePerUnit": 1500,
        "cancelDeadlineHours": 24,
        "paymentDeadlineHours": 72,
        "waitlistHoldMinutes": 30,
        "reductions": {"disability": 100, "child": 50},
        **resource,
    }
    created = await http.post(f"/v1/facilities/{facility.json()['id']}/resources", json=body, headers=staff.headers)
    assert created.status_code == 201, created.text
    return Venue(facility.json()["id"], created.json()["id"], staff, 1)


@pytest.fixture
async def venue(http: httpx.AsyncClient, actors: Actors) -> Venue:
    return await make_venue(http, actors)


@pytest.fixture
async def free_venue(http: httpx.AsyncClient, actors: Actors) -> Venue:
    """A resource that costs nothing, so bookings are confirmed at once."""
    return await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
