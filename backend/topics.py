"""Realtime topic names: who an event is for.

Services publish to these topics (the outbox row's `topic`), the access rules in backend/auth.py
decide who may join them, and the push and mail workers read back whose topic an event was on.
All of them build and read the names here, so a rename cannot leave one side behind.
"""

from __future__ import annotations

import re
from typing import Final

from schema.accounts import OrganizationKind

# Organisation kind → topic prefix: staff see events of their own organisation (e.g. `hospital:42`).
ORGANIZATION_PREFIX: Final[dict[str, str]] = {
    "municipality": "municipality",
    "facility_operator": "operator",
    "nursery": "nursery",
    "guidance_center": "guidance",
    "shelter": "shelter",
    "fire_department": "fire",
    "hospital": "hospital",
    "prefecture": "prefecture",
}

# Prefecture-wide boards, watched by the staff of many organisations.
SHELTER_VACANCY_BOARD: Final = "shelters:vacancy"
HOSPITAL_BOARD: Final = "hospitals:board"

# Vacancy topics are named by the client (which facility or nursery it shows).
_VACANCY: Final = re.compile(r"^vacancy:(facility|nursery):[1-9][0-9]{0,18}$")
_USER: Final = "user"


def user_topic(account_id: int) -> str:
    """One person's own events (their bookings, reservations, applications)."""
    return f"{_USER}:{account_id}"


def organization_topic(kind: OrganizationKind, organization_id: int) -> str:
    """The staff of one organisation."""
    return f"{ORGANIZATION_PREFIX[kind]}:{organization_id}"


def municipality_topic(municipality_id: int) -> str:
    return organization_topic("municipality", municipality_id)


def nursery_topic(nursery_id: int) -> str:
    return organization_topic("nursery", nursery_id)


def guidance_topic(guidance_center_id: int) -> str:
    return organization_topic("guidance_center", guidance_center_id)


def shelter_topic(shelter_id: int) -> str:
    return organization_topic("shelter", shelter_id)


def fire_topic(fire_department_id: int) -> str:
    return organization_topic("fire_department", fire_department_id)


def hospital_topic(hospital_id: int) -> str:
    return organization_topic("hospital", hospital_id)


def facility_vacancy_topic(facility_id: int) -> str:
    return f"vacancy:facility:{facility_id}"


def nursery_vacancy_topic(nursery_id: int) -> str:
    return f"vacancy:nursery:{nursery_id}"


def is_vacancy_topic(topic: str) -> bool:
    return bool(_VACANCY.match(topic))


def personal_account(topic: str) -> int | None:
    """The account whose own topic this is, or None for any other topic."""
    prefix, _, target = topic.partition(":")
    return int(target) if prefix == _USER and target.isdigit() else None


def organization_of(topic: str) -> tuple[str, int] | None:
    """(prefix, organisation id) of an organisation's topic, or None for any other topic."""
    prefix, _, target = topic.partition(":")
    return (prefix, int(target)) if prefix in ORGANIZATION_PREFIX.values() and target.isdigit() else None
