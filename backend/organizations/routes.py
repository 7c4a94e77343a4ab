"""HTTP ↔ OrganizationService. No rules here."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from backend.accounts.service import AccountService
from backend.auth import ANY_ADMIN, ANY_MEMBER, PREFECTURE_ADMIN
from backend.context import app_context
from backend.errors import BadRequest
from backend.organizations.service import OrganizationService
from backend.pagination import after_id, before_id, page
from backend.params import Cursor, IdParam, Limit, Me, MunicipalityQuery
from schema.accounts import Organization, OrganizationCreate, OrganizationKind
from schema.base import MAX_ID
from schema.organizations import (
    AuditEntry,
    Deactivation,
    MemberUpdate,
    OrganizationDetail,
    OrganizationMember,
    OrganizationUpdate,
)

Service = NamedDependency[OrganizationService]
ORG_ADMINS = (ANY_ADMIN,)  # the organisation's own admin, or the prefecture admin (checked per row)
# A CSV export is for a spreadsheet, not a screen: larger pages.
CSV_PAGE = 10_000
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def organization_service(state: State) -> OrganizationService:
    return OrganizationService(app_context(state))


def account_service(state: State) -> AccountService:
    return AccountService(app_context(state))


# Here rather than with the accounts routes: one path, one router (Litestar adds an OPTIONS
# handler per path and router, so a second router on /v1/organizations would clash).
@post("/v1/organizations", access=PREFECTURE_ADMIN, operation_id="createOrganization")
async def create_organization(
    data: JSONBody[OrganizationCreate], caller: Me, accounts: NamedDependency[AccountService]
) -> Organization:
    """Create an organisation (prefecture admin)."""
    return await accounts.create_organization(caller, data)


@get(
    "/v1/organizations",
    access=ORG_ADMINS,
    operation_id="listOrganizations",
)
async def list_organizations(
    request: Request[Any, Any, Any],
    caller: Me,
    organizations: Service,
    kind: Annotated[OrganizationKind | None, QueryParameter()] = None,
    municipality_id: MunicipalityQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[OrganizationDetail]]:
    """Organisations by id (filter by kind and municipality): all for the prefecture, one's own for an admin."""
    items = await organizations.organizations(caller, kind, municipality_id, after_id(cursor), limit)
    return page(request, items, limit)


@get(
    "/v1/organizations/{organization_id:int}",
    access=(ANY_MEMBER,),
    operation_id="getOrganization",
)
async def get_organization(organization_id: IdParam, caller: Me, organizations: Service) -> OrganizationDetail:
    """One organisation, for its members and the prefecture admin."""
    return await organizations.organization(caller, organization_id)


@patch(
    "/v1/organizations/{organization_id:int}",
    access=ORG_ADMINS,
    operation_id="updateOrganization",
)
async def update_organization(
    organization_id: IdParam, data: JSONBody[OrganizationUpdate], caller: Me, organizations: Service
) -> OrganizationDetail:
    """Edit name, address, coordinates; the municipality only by the prefecture admin (audited)."""
    return await organizations.update(caller, organization_id, data)


@post(
    "/v1/organizations/{organization_id:int}/deactivate",
    access=PREFECTURE_ADMIN,
    operation_id="deactivateOrganization",
    status_code=200,
)
async def deactivate_organization(
    organization_id: IdParam, data: JSONBody[Deactivation], caller: Me, organizations: Service
) -> OrganizationDetail:
    """Deactivate with a reason: members lose its access at once and their live sockets close."""
    return await organizations.deactivate(caller, organization_id, data)


@post(
    "/v1/organizations/{organization_id:int}/reactivate",
    access=PREFECTURE_ADMIN,
    operation_id="reactivateOrganization",
    status_code=200,
)
async def reactivate_organization(organization_id: IdParam, caller: Me, organizations: Service) -> OrganizationDetail:
    """Undo a deactivation: the members' roles grant access again."""
    return await organizations.reactivate(caller, organization_id)


@get(
    "/v1/organizations/{organization_id:int}/members",
    access=ORG_ADMINS,
    operation_id="listOrganizationMembers",
)
async def list_members(
    request: Request[Any, Any, Any],
    organization_id: IdParam,
    caller: Me,
    organizations: Service,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[OrganizationMember]]:
    """The members with their roles, by account id."""
    items = await organizations.members(caller, organization_id, after_id(cursor), limit)
    return page(request, items, limit, key=lambda member: member.account_id)


@patch(
    "/v1/organizations/{organization_id:int}/members/{account_id:int}",
    access=ORG_ADMINS,
    operation_id="changeMemberRole",
)
async def change_member_role(
    organization_id: IdParam, account_id: IdParam, data: JSONBody[MemberUpdate], caller: Me, organizations: Service
) -> OrganizationMember:
    """The member's one role here from now on; their live sockets close and reconnect with the new topics."""
    return await organizations.change_role(caller, organization_id, account_id, data)


@delete(
    "/v1/organizations/{organization_id:int}/members/{account_id:int}",
    access=ORG_ADMINS,
    operation_id="removeMember",
    status_code=204,
)
async def remove_member(organization_id: IdParam, account_id: IdParam, caller: Me, organizations: Service) -> None:
    """Remove a member: their next request has no access here, and their live sockets close at once."""
    await organizations.remove(caller, organization_id, account_id)


@get("/v1/audit", access=ORG_ADMINS, operation_id="readAuditLog")
async def audit_log(
    request: Request[Any, Any, Any],
    caller: Me,
    organizations: Service,
    subject_type: Annotated[str | None, QueryParameter(name="subjectType", max_length=50)] = None,
    subject_id: Annotated[str | None, QueryParameter(name="subjectId", max_length=100)] = None,
    actor: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    start: Annotated[datetime | None, QueryParameter(name="from")] = None,
    end: Annotated[datetime | None, QueryParameter(name="to")] = None,
    format: Annotated[Literal["json", "csv"] | None, QueryParameter()] = None,
    cursor: Cursor = None,
    limit: Annotated[int | None, QueryParameter(ge=1, le=CSV_PAGE, description="Page size (≤ 200 as JSON)")] = None,
) -> Response[Any]:
    """Who read or changed which record, when and why, newest first. `Accept: text/csv` or
    `?format=csv` gives CSV (UTF-8 with BOM, for Excel); both page with a `Link: rel="next"` header."""
    as_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    size = limit or (CSV_PAGE if as_csv else 50)
    if not as_csv and size > 200:
        raise BadRequest("JSON pages hold at most 200 rows; use CSV for more.", slug="invalid-parameter")
    if start is not None and end is not None and end <= start:
        raise BadRequest("`to` must be after `from`.", slug="invalid-parameter")
    items = await organizations.audit_log(
        caller,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        start=start,
        end=end,
        before=before_id(cursor),
        limit=size,
    )
    paged = page(request, items, size)
    if not as_csv:
        return paged
    return Response(
        audit_csv(items),
        media_type=CSV_MEDIA_TYPE,
        headers={**paged.headers, "Content-Disposition": 'attachment; filename="audit.csv"'},
    )


_CSV_COLUMNS = ("id", "at", "actorAccountId", "actorName", "actorEmail", "action", "subjectType", "subjectId", "reason")


def _cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    # A cell starting with = + - @ is a formula to Excel: reasons are free text typed by staff.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv(items: list[AuditEntry]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for e in items:
        row = (e.id, e.at, e.actor_account_id, e.actor_name, e.actor_email, e.action, e.subject_type, e.subject_id)
        writer.writerow([*map(_cell, row), _cell(e.reason)])
    # The BOM makes Excel read UTF-8 (Japanese names) instead of the local code page.
    return "\ufeff".encode() + out.getvalue().encode()


router = Router(
    path="/",
    tags=["organizations"],
    route_handlers=[
        create_organization,
        list_organizations,
        get_organization,
        update_organization,
        deactivate_organization,
        reactivate_organization,
        list_members,
        change_member_role,
        remove_member,
        audit_log,
    ],
    dependencies={
        "organizations": Provide(organization_service, sync_to_thread=False),
        "accounts": Provide(account_service, sync_to_thread=False),
    },
)
