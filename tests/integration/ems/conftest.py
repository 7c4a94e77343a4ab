from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import Actor, Actors

# A 1×1 PNG and the smallest JPEG header: real magic bytes, as a phone camera would send.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c6360000200000500017a"
    "5eab3f0000000049454e44ae426082"
)
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


@dataclass
class Scene:
    fire_department: int
    paramedic: Actor
    hospitals: list[int]
    er: list[Actor]


def case_body(**overrides: Any) -> dict[str, Any]:
    return {
        "estimatedAge": 70,
        "sex": "male",
        "chiefComplaint": "胸痛 chest pain for 30 minutes",
        "jcs": "I-1",
        "gcs": {"e": 4, "v": 4, "m": 6},
        "vitals": {"sbp": 88, "dbp": 52, "hr": 118, "rr": 24, "spo2": 91, "temp": 36.4},
        "allergies": ["penicillin"],
        "medications": ["aspirin"],
        "location": {"lat": 36.37, "lon": 140.47},
        "etaMinutes": 12,
        **overrides,
    }


@pytest.fixture
async def scene(actors: Actors) -> Scene:
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospitals = [await actors.organization("hospital") for _ in range(4)]
    er = [await actors.member("hospital", "er_staff", h) for h in hospitals]
    return Scene(fire, paramedic, hospitals, er)


async def open_case(http: httpx.AsyncClient, scene: Scene, **overrides: Any) -> dict[str, Any]:
    response = await http.post("/v1/ems/cases", json=case_body(**overrides), headers=scene.paramedic.headers)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


async def send(http: httpx.AsyncClient, scene: Scene, case_id: int, hospitals: list[int]) -> list[dict[str, Any]]:
    response = await http.post(
        f"/v1/ems/cases/{case_id}/requests", json={"hospitalIds": hospitals}, headers=scene.paramedic.headers
    )
    assert response.status_code == 201, response.text
    requests: list[dict[str, Any]] = response.json()
    return requests


async def answer(
    http: httpx.AsyncClient, staff: Actor, request_id: int, decision: str = "accept", **extra: Any
) -> httpx.Response:
    body = {"decision": decision, **({"department": "cardiology"} if decision == "accept" else {"reason": "no_beds"})}
    return await http.post(f"/v1/ems/requests/{request_id}/response", json={**body, **extra}, headers=staff.headers)
