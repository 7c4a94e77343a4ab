"""Who may call what: one table for every endpoint and every kind of caller.

The table is the specification, written by hand; the test compares it with the app's own route
table, so a new endpoint without an entry fails here. A caller outside the allowed roles gets
401 (anonymous) or 403; an allowed caller gets past the access check (whatever the body then
earns). For organisation-scoped endpoints, an allowed role of *another* organisation gets 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.support import Actor, Actors

ROLES = (
    "anonymous",
    "resident",
    "municipality_staff",
    "operator_staff",
    "nursery_staff",
    "caseworker",
    "shelter_staff",
    "paramedic",
    "er_staff",
    "hospital_admin",
    "prefecture_admin",
)
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
EVERYONE = frozenset(ROLES)
FACILITY_STAFF = frozenset({"municipality_staff", "operator_staff", "prefecture_admin"})
ADMINS = frozenset({"hospital_admin", "prefecture_admin"})
MEMBERS = SIGNED_IN - {"resident"}

MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/health"): EVERYONE,
    ("GET", "/ready"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,  # not routed by the public proxy (deploy/nginx.conf)
    ("POST", "/v1/accounts"): EVERYONE,
    ("POST", "/v1/accounts/verify"): EVERYONE,
    ("POST", "/v1/accounts/verification"): SIGNED_IN,
    ("PUT", "/v1/me/email"): SIGNED_IN,
    ("GET", "/verify"): EVERYONE,
    ("POST", "/verify"): EVERYONE,
    ("POST", "/v1/me/password"): SIGNED_IN,
    ("POST", "/v1/password-resets"): EVERYONE,
    ("POST", "/v1/password-resets/{token:str}"): EVERYONE,
    ("GET", "/reset-password"): EVERYONE,
    ("POST", "/reset-password"): EVERYONE,
    ("POST", "/v1/sessions"): EVERYONE,
    ("DELETE", "/v1/sessions/current"): SIGNED_IN,
    ("GET", "/v1/me"): SIGNED_IN,
    ("PATCH", "/v1/me"): SIGNED_IN,
    ("GET", "/v1/me/sessions"): SIGNED_IN,
    ("DELETE", "/v1/me/sessions/{session_id:int}"): SIGNED_IN,
    ("GET", "/v1/me/export"): SIGNED_IN,
    ("DELETE", "/v1/me/sessions"): SIGNED_IN,
    ("DELETE", "/v1/me"): SIGNED_IN,
    ("PUT", "/v1/me/residency"): SIGNED_IN,
    ("GET", "/v1/me/residency"): SIGNED_IN,
    ("GET", "/v1/municipalities/{municipality_id:int}/residency-requests"): frozenset({"municipality_staff"}),
    ("POST", "/v1/municipalities/{municipality_id:int}/residency-requests/{residency_id:int}/approve"): frozenset(
        {"municipality_staff"}
    ),
    ("POST", "/v1/municipalities/{municipality_id:int}/residency-requests/{residency_id:int}/decline"): frozenset(
        {"municipality_staff"}
    ),
    ("POST", "/v1/organizations"): frozenset({"prefecture_admin"}),
    ("POST", "/v1/organizations/{organization_id:int}/invitations"): frozenset({"hospital_admin", "prefecture_admin"}),
    ("GET", "/v1/organizations/{organization_id:int}/invitations"): frozenset({"hospital_admin", "prefecture_admin"}),
    ("DELETE", "/v1/organizations/{organization_id:int}/invitations/{invitation_id:int}"): frozenset(
        {"hospital_admin", "prefecture_admin"}
    ),
    ("POST", "/v1/invitations/{token:str}/accept"): SIGNED_IN,
    ("GET", "/invitations"): EVERYONE,
    ("POST", "/v1/realtime/tickets"): SIGNED_IN,
    ("GET", "/v1/organizations"): ADMINS,
    ("GET", "/v1/organizations/{organization_id:int}"): MEMBERS,
    ("PATCH", "/v1/organizations/{organization_id:int}"): ADMINS,
    ("POST", "/v1/organizations/{organization_id:int}/deactivate"): frozenset({"prefecture_admin"}),
    ("POST", "/v1/organizations/{organization_id:int}/reactivate"): frozenset({"prefecture_admin"}),
    ("GET", "/v1/organizations/{organization_id:int}/members"): ADMINS,
    ("PATCH", "/v1/organizations/{organization_id:int}/members/{account_id:int}"): ADMINS,
    ("DELETE", "/v1/organizations/{organization_id:int}/members/{account_id:int}"): ADMINS,
    ("GET", "/v1/audit"): ADMINS,
    ("GET", "/v1/stats/overview"): frozenset({"prefecture_admin"}),
    ("POST", "/v1/facilities"): FACILITY_STAFF,
    ("GET", "/v1/facilities"): EVERYONE,
    ("POST", "/v1/facilities/{facility_id:int}/resources"): FACILITY_STAFF,
    ("GET", "/v1/facilities/{facility_id:int}"): EVERYONE,
    ("GET", "/v1/vacancies"): EVERYONE,
    ("GET", "/v1/facilities/availability"): EVERYONE,
    ("GET", "/v1/municipalities"): EVERYONE,
    ("POST", "/v1/bookings"): SIGNED_IN,
    ("GET", "/v1/bookings/{booking_id:int}"): SIGNED_IN,
    ("POST", "/v1/bookings/{booking_id:int}/cancel"): SIGNED_IN,
    ("POST", "/v1/bookings/{booking_id:int}/payment"): FACILITY_STAFF,
    ("POST", "/v1/bookings/{booking_id:int}/reduction-approval"): FACILITY_STAFF,
    ("POST", "/v1/bookings/{booking_id:int}/confirm"): SIGNED_IN,
    ("GET", "/v1/me/bookings"): SIGNED_IN,
    ("GET", "/v1/me/calendar.ics"): SIGNED_IN,
    ("POST", "/v1/me/calendar-feed"): SIGNED_IN,
    ("DELETE", "/v1/me/calendar-feed"): SIGNED_IN,
    # The secret URL is the credential (calendar apps send no header): anyone else gets 404.
    ("GET", "/v1/calendar/{feed_file:str}"): EVERYONE,
    ("POST", "/v1/waitlist"): SIGNED_IN,
    ("GET", "/v1/me/waitlist"): SIGNED_IN,
    ("GET", "/v1/organizations/{organization_id:int}/facilities"): FACILITY_STAFF,
    ("PATCH", "/v1/facilities/{facility_id:int}"): FACILITY_STAFF,
    ("PATCH", "/v1/resources/{resource_id:int}"): FACILITY_STAFF,
    ("POST", "/v1/resources/{resource_id:int}/close"): FACILITY_STAFF,
    ("POST", "/v1/resources/{resource_id:int}/reopen"): FACILITY_STAFF,
    ("POST", "/v1/facilities/{facility_id:int}/closures"): FACILITY_STAFF,
    ("GET", "/v1/facilities/{facility_id:int}/closures"): FACILITY_STAFF,
    ("POST", "/v1/closures/{closure_id:int}/lift"): FACILITY_STAFF,
    ("GET", "/v1/facilities/{facility_id:int}/bookings"): FACILITY_STAFF,
    ("POST", "/v1/bookings/{booking_id:int}/no-show"): FACILITY_STAFF,
    ("POST", "/v1/lotteries"): FACILITY_STAFF,
    ("POST", "/v1/lotteries/{lottery_id:int}/applications"): SIGNED_IN,
    ("POST", "/v1/lotteries/{lottery_id:int}/draw"): FACILITY_STAFF,
    ("GET", "/v1/lotteries/{lottery_id:int}"): EVERYONE,
    ("GET", "/v1/lotteries"): EVERYONE,
    ("GET", "/v1/me/lottery-applications"): SIGNED_IN,
    ("GET", "/v1/lottery-applications/{application_id:int}"): SIGNED_IN,
    ("GET", "/v1/organizations/{organization_id:int}/lotteries"): FACILITY_STAFF,
    ("POST", "/v1/lotteries/{lottery_id:int}/cancel"): FACILITY_STAFF,
    ("POST", "/v1/nurseries/{nursery_id:int}/sessions"): frozenset({"nursery_staff"}),
    ("GET", "/v1/nurseries/{nursery_id:int}/sessions"): frozenset({"nursery_staff"}),
    ("PATCH", "/v1/nurseries/{nursery_id:int}/sessions/{session_id:int}"): frozenset({"nursery_staff"}),
    ("POST", "/v1/nurseries/{nursery_id:int}/sessions/{session_id:int}/cancel"): frozenset({"nursery_staff"}),
    ("GET", "/v1/nurseries/{nursery_id:int}/roster"): frozenset({"nursery_staff"}),
    ("POST", "/v1/children"): SIGNED_IN,
    ("GET", "/v1/children"): SIGNED_IN,
    ("GET", "/v1/children/{child_id:int}"): SIGNED_IN,
    ("POST", "/v1/children/{child_id:int}/applications"): SIGNED_IN,
    ("GET", "/v1/children/{child_id:int}/applications"): SIGNED_IN,
    ("DELETE", "/v1/children/{child_id:int}/applications/{application_id:int}"): SIGNED_IN,
    ("POST", "/v1/children/{child_id:int}/applications/{application_id:int}/decline"): frozenset({"nursery_staff"}),
    ("POST", "/v1/children/{child_id:int}/applications/{application_id:int}/meeting"): frozenset({"nursery_staff"}),
    ("GET", "/v1/nurseries/{nursery_id:int}/applications"): frozenset({"nursery_staff"}),
    ("POST", "/v1/children/{child_id:int}/approvals"): frozenset({"nursery_staff"}),
    ("GET", "/v1/childcare/availability"): SIGNED_IN,
    ("POST", "/v1/childcare/reservations"): SIGNED_IN,
    ("GET", "/v1/childcare/reservations"): SIGNED_IN,
    ("GET", "/v1/childcare/reservations/{reservation_id:int}"): SIGNED_IN,
    ("POST", "/v1/childcare/reservations/{reservation_id:int}/cancel"): SIGNED_IN,
    ("POST", "/v1/childcare/reservations/{reservation_id:int}/attendance"): frozenset({"nursery_staff"}),
    ("POST", "/v1/childcare/waitlist"): SIGNED_IN,
    ("PUT", "/v1/municipalities/{municipality_id:int}/childcare-quota"): frozenset(
        {"municipality_staff", "prefecture_admin"}
    ),
    ("PUT", "/v1/shelters/{shelter_id:int}/units/{category:str}"): frozenset({"shelter_staff"}),
    ("GET", "/v1/shelters/vacancies"): frozenset({"caseworker", "shelter_staff"}),
    ("POST", "/v1/intake-requests"): frozenset({"caseworker"}),
    ("GET", "/v1/intake-requests"): frozenset({"caseworker", "shelter_staff"}),
    ("GET", "/v1/intake-requests/{request_id:int}"): frozenset({"caseworker", "shelter_staff"}),
    ("POST", "/v1/intake-requests/{request_id:int}/responses"): frozenset({"shelter_staff"}),
    ("POST", "/v1/intake-requests/{request_id:int}/placement"): frozenset({"caseworker"}),
    ("POST", "/v1/placements/{placement_id:int}/discharge"): frozenset({"caseworker", "shelter_staff"}),
    ("GET", "/v1/intake-stats"): frozenset({"prefecture_admin"}),
    ("GET", "/v1/shelters/{shelter_id:int}/categories"): frozenset({"shelter_staff"}),
    ("POST", "/v1/shelters/{shelter_id:int}/categories"): frozenset({"shelter_staff"}),
    ("PATCH", "/v1/shelters/{shelter_id:int}/categories/{category:str}"): frozenset({"shelter_staff"}),
    ("DELETE", "/v1/shelters/{shelter_id:int}/categories/{category:str}"): frozenset({"shelter_staff"}),
    ("GET", "/v1/shelters/{shelter_id:int}/placements"): frozenset({"shelter_staff"}),
    ("GET", "/v1/guidance-centers/{center_id:int}/intake-requests"): frozenset({"caseworker"}),
    ("POST", "/v1/intake-requests/{request_id:int}/cancel"): frozenset({"caseworker"}),
    ("POST", "/v1/ems/cases"): frozenset({"paramedic"}),
    ("GET", "/v1/ems/cases/{case_id:int}"): frozenset({"paramedic", "er_staff"}),
    ("POST", "/v1/ems/cases/{case_id:int}/vitals"): frozenset({"paramedic"}),
    ("POST", "/v1/ems/cases/{case_id:int}/attachments"): frozenset({"paramedic"}),
    ("GET", "/v1/ems/cases/{case_id:int}/attachments/{attachment_id:int}"): frozenset({"paramedic", "er_staff"}),
    ("GET", "/v1/ems/cases/{case_id:int}/fhir"): frozenset({"paramedic", "er_staff"}),
    ("GET", "/fhir/CodeSystem/jcs"): EVERYONE,
    ("POST", "/v1/ems/cases/{case_id:int}/requests"): frozenset({"paramedic"}),
    ("GET", "/v1/ems/inbox"): frozenset({"er_staff"}),
    ("GET", "/v1/ems/incoming"): frozenset({"er_staff"}),
    ("POST", "/v1/ems/requests/{request_id:int}/response"): frozenset({"er_staff"}),
    ("GET", "/v1/ems/requests/{request_id:int}"): frozenset({"er_staff"}),
    ("GET", "/v1/ems/cases/{case_id:int}/requests"): frozenset({"paramedic"}),
    ("POST", "/v1/ems/cases/{case_id:int}/destination"): frozenset({"paramedic"}),
    ("PUT", "/v1/hospitals/{hospital_id:int}/board/{department:str}"): frozenset({"er_staff"}),
    ("GET", "/v1/hospitals/board"): frozenset({"paramedic", "er_staff"}),
    ("GET", "/v1/ems/stats"): frozenset({"prefecture_admin"}),
    ("GET", "/v1/hospitals/{hospital_id:int}/departments"): frozenset({"er_staff", "hospital_admin"}),
    ("POST", "/v1/hospitals/{hospital_id:int}/departments"): frozenset({"hospital_admin"}),
    ("DELETE", "/v1/hospitals/{hospital_id:int}/departments/{department:str}"): frozenset({"hospital_admin"}),
    ("GET", "/v1/fire-departments/{fire_department_id:int}/cases"): frozenset({"paramedic"}),
    ("POST", "/v1/ems/cases/{case_id:int}/close"): frozenset({"paramedic"}),
    ("POST", "/v1/devices"): SIGNED_IN,
    ("DELETE", "/v1/devices/{device_id:int}"): SIGNED_IN,
}
PATH_VALUES = {
    "category:str": "6-12:female",
    "department:str": "cardiology",
    "token:str": "not-a-real-token-0123",
    # Nobody's session: ending the cast's own sessions would spoil the rows after it.
    "session_id:int": "999999",
}


def routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue
        for handler in route.route_handlers:
            for method in sorted(getattr(handler, "http_methods", ())):
                if method != "OPTIONS":
                    found.append((method, route.path))
    return found


def concrete(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace("{" + placeholder + "}", value)
    return re.sub(r"\{[^}]+\}", "1", path)


@dataclass
class Cast:
    people: dict[str, Actor | None]
    own: dict[str, int]  # the organisation each staff role belongs to


@pytest.fixture
async def cast(actors: Actors) -> Cast:
    memberships = {
        "municipality_staff": ("municipality", "staff"),
        "operator_staff": ("facility_operator", "staff"),
        "nursery_staff": ("nursery", "staff"),
        "caseworker": ("guidance_center", "caseworker"),
        "shelter_staff": ("shelter", "staff"),
        "paramedic": ("fire_department", "paramedic"),
        "er_staff": ("hospital", "er_staff"),
        "hospital_admin": ("hospital", "admin"),
        "prefecture_admin": ("prefecture", "admin"),
    }
    people: dict[str, Actor | None] = {"anonymous": None, "resident": await actors.resident()}
    own = {}
    for role, (kind, membership) in memberships.items():
        own[role] = await actors.organization(kind, municipality_id=1)
        people[role] = await actors.member(kind, membership, own[role])
    return Cast(people, own)


def test_every_endpoint_has_an_entry_in_the_matrix(app: Litestar) -> None:
    listed = set(routes(app))
    assert listed - set(MATRIX) == set(), "new endpoints need an entry in MATRIX"
    assert set(MATRIX) - listed == set(), "MATRIX lists endpoints that no longer exist"


# Endpoints that end the caller's session or account go last, in this order; deleting the
# account is tried with a fresh login, since logging out came before it.
LAST = (("DELETE", "/v1/sessions/current"), ("DELETE", "/v1/me"))


async def test_each_role_gets_what_the_matrix_says(
    http: httpx.AsyncClient, app: Litestar, cast: Cast, actors: Actors
) -> None:
    ordered = sorted(routes(app), key=lambda r: LAST.index(r) + 1 if r in LAST else 0)
    failures = []
    for method, path in ordered:
        allowed = MATRIX[(method, path)]
        for role in ROLES:
            person = cast.people[role]
            if person is not None and (method, path) == ("DELETE", "/v1/me"):
                person = await actors.login(person.email, person.account_id)
            headers = person.headers if person else {}
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = await http.request(method, concrete(path), json=body, headers=headers)
            if role in allowed:
                ok = response.status_code not in (401, 403)
            else:
                ok = response.status_code == (401 if person is None else 403)
            if not ok:
                failures.append(f"{method} {path} as {role}: {response.status_code}")
    assert failures == []


async def test_allowed_roles_of_another_organisation_get_404(
    http: httpx.AsyncClient, actors: Actors, cast: Cast
) -> None:
    foreign = {kind: await actors.organization(kind, municipality_id=2) for kind in
               ("hospital", "nursery", "shelter", "municipality", "guidance_center", "fire_department")}  # fmt: skip
    owner = await actors.member("municipality", "staff", foreign["municipality"])
    facility = await http.post(
        "/v1/facilities",
        json={"organizationId": foreign["municipality"], "name": "X", "kind": "gym", "address": "X", "lat": 36.0,
              "lon": 140.0},
        headers=owner.headers,
    )  # fmt: skip
    resource = {"name": "X", "unitMinutes": 60, "opensAt": "09:00:00", "closesAt": "17:00:00", "feePerUnit": 0,
                "cancelDeadlineHours": 0}  # fmt: skip
    cases = [
        ("municipality_staff", "POST", f"/v1/facilities/{facility.json()['id']}/resources", resource),
        ("hospital_admin", "POST", f"/v1/organizations/{foreign['hospital']}/invitations",
         {"email": owner.email, "role": "staff"}),
        ("hospital_admin", "GET", f"/v1/organizations/{foreign['hospital']}/invitations", None),
        ("nursery_staff", "POST", f"/v1/nurseries/{foreign['nursery']}/sessions",
         {"date": "2030-01-10", "block": "morning", "capacity": {"3-5": 1}}),
        ("nursery_staff", "GET", f"/v1/nurseries/{foreign['nursery']}/applications", None),
        ("nursery_staff", "GET", f"/v1/nurseries/{foreign['nursery']}/sessions?from=2030-01-01&to=2030-01-31", None),
        ("nursery_staff", "PATCH", f"/v1/nurseries/{foreign['nursery']}/sessions/1", {"capacity": {"3-5": 1}}),
        ("nursery_staff", "POST", f"/v1/nurseries/{foreign['nursery']}/sessions/1/cancel", {"reason": "x"}),
        ("nursery_staff", "GET", f"/v1/nurseries/{foreign['nursery']}/roster?date=2030-01-10", None),
        ("shelter_staff", "PUT", f"/v1/shelters/{foreign['shelter']}/units/special", {"capacity": 1}),
        ("er_staff", "PUT", f"/v1/hospitals/{foreign['hospital']}/board/cardiology",
         {"status": "accepting", "until": "2099-01-01T00:00:00+09:00"}),
        ("municipality_staff", "PUT", "/v1/municipalities/2/childcare-quota", {"monthlyHours": 10}),
        ("municipality_staff", "GET", "/v1/municipalities/2/residency-requests", None),
        ("municipality_staff", "POST", "/v1/municipalities/2/residency-requests/1/approve", None),
        ("municipality_staff", "POST", "/v1/municipalities/2/residency-requests/1/decline", {"reason": "x"}),
        ("hospital_admin", "GET", f"/v1/organizations/{foreign['hospital']}", None),
        ("hospital_admin", "PATCH", f"/v1/organizations/{foreign['hospital']}", {"name": "Mine now"}),
        ("hospital_admin", "GET", f"/v1/organizations/{foreign['hospital']}/members", None),
        ("hospital_admin", "PATCH", f"/v1/organizations/{foreign['hospital']}/members/{owner.account_id}",
         {"role": "staff"}),
        ("hospital_admin", "DELETE", f"/v1/organizations/{foreign['municipality']}/members/{owner.account_id}",
         None),
        ("er_staff", "GET", f"/v1/organizations/{foreign['hospital']}", None),
        ("shelter_staff", "GET", f"/v1/shelters/{foreign['shelter']}/categories", None),
        ("shelter_staff", "POST", f"/v1/shelters/{foreign['shelter']}/categories",
         {"category": "special", "capacity": 1}),
        ("shelter_staff", "PATCH", f"/v1/shelters/{foreign['shelter']}/categories/special", {"label": "x"}),
        ("shelter_staff", "DELETE", f"/v1/shelters/{foreign['shelter']}/categories/special", None),
        ("shelter_staff", "GET", f"/v1/shelters/{foreign['shelter']}/placements", None),
        ("er_staff", "GET", f"/v1/hospitals/{foreign['hospital']}/departments", None),
        ("hospital_admin", "POST", f"/v1/hospitals/{foreign['hospital']}/departments", {"department": "burns"}),
        ("hospital_admin", "DELETE", f"/v1/hospitals/{foreign['hospital']}/departments/burns", None),
        ("caseworker", "GET", f"/v1/guidance-centers/{foreign['guidance_center']}/intake-requests", None),
        ("paramedic", "GET", f"/v1/fire-departments/{foreign['fire_department']}/cases", None),
    ]  # fmt: skip
    for role, method, path, body in cases:
        person = cast.people[role]
        assert person is not None
        response = await http.request(method, path, json=body, headers=person.headers)
        assert response.status_code == 404, f"{role} {method} {path}: {response.status_code} {response.text}"
