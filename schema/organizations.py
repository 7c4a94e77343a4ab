"""The back office of organisations and people: organisations, members, the audit log."""

from datetime import datetime
from typing import Annotated

import msgspec

from schema.accounts import MunicipalityId, OrganizationKind, OrganizationName, Role
from schema.base import Input, Wire

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class OrganizationDetail(Wire):
    id: int
    kind: OrganizationKind
    name: str
    municipality_id: int | None
    address: str | None
    lat: float | None
    lon: float | None
    active: bool
    deactivated_at: datetime | None
    deactivation_reason: str | None
    created_at: datetime


class OrganizationUpdate(Input):
    """PATCH: only the fields sent change; `null` clears an address or the coordinates."""

    name: OrganizationName | msgspec.UnsetType = msgspec.UNSET
    address: Address | msgspec.UnsetType | None = msgspec.UNSET
    lat: Latitude | msgspec.UnsetType | None = msgspec.UNSET
    lon: Longitude | msgspec.UnsetType | None = msgspec.UNSET
    municipality_id: MunicipalityId | msgspec.UnsetType = msgspec.UNSET


class Deactivation(Input):
    reason: Reason


class OrganizationMember(Wire):
    account_id: int
    email: str
    display_name: str
    roles: list[Role]
    since: datetime


class MemberUpdate(Input):
    """The member's one role in this organisation from now on (other roles there end)."""

    role: Role


class AuditEntry(Wire):
    id: int
    at: datetime
    actor_account_id: int | None
    actor_name: str | None
    actor_email: str | None
    action: str
    subject_type: str
    subject_id: str
    reason: str | None
