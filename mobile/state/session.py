"""Login, the caller's roles, and which home screen they get."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import get_args

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.accounts import Me, Membership, OrganizationKind, Session

# The first membership that matches decides the home screen; residents get the resident home.
HOME_BY_ROLE = (
    ("fire_department", "paramedic", "paramedic"),
    ("hospital", "er_staff", "er"),
    ("guidance_center", "caseworker", "caseworker"),
    ("shelter", None, "shelter"),
    ("nursery", None, "nursery"),
    ("facility_operator", None, "facility"),
    ("municipality", None, "facility"),
    # Administrators also get the administration home (members, invitations, audit log).
    ("prefecture", None, "admin"),
    *((kind, "admin", "admin") for kind in get_args(OrganizationKind) if kind != "prefecture"),
)


@dataclass
class SessionModel:
    api: MusubiApi
    me: Me | None = None
    error: Failure | None = None
    memberships: list[Membership] = field(default_factory=list)
    # What the person typed, bound to the login form: each keystroke's change event carries the
    # field's value, so the form never depends on the view's controls being the ones the browser
    # last patched (a re-render would otherwise read an empty, freshly built field).
    email: str = ""
    password: str = ""
    # The home picked by a person with several memberships (remembered per device by the shell).
    chosen: str | None = None

    @property
    def can_log_in(self) -> bool:
        return bool(self.email.strip() and self.password)

    async def login(self) -> bool:
        self.error = None
        try:
            session = await self.api.post("/v1/sessions", {"email": self.email.strip(), "password": self.password})
        except ApiError as error:
            self.error = error
            self.password = ""  # the e-mail stays, so a mistyped password costs one field, not two
            return False
        self.password = ""
        self.api.token = msgspec.convert(session, Session).token
        self.me = msgspec.convert(await self.api.get("/v1/me"), Me)
        self.memberships = self.me.memberships
        return True

    async def logout(self) -> None:
        with contextlib.suppress(ApiError):  # the token is dropped locally either way
            await self.api.request("DELETE", "/v1/sessions/current")
        self.api.token = None
        self.me = None
        self.memberships = []
        self.chosen = None

    @property
    def homes(self) -> list[str]:
        """Every home the person's memberships open, in the table's order; residents have one."""
        found: list[str] = []
        for kind, role, home in HOME_BY_ROLE:
            if home not in found and any(
                m.organization_kind == kind and (role is None or m.role == role) for m in self.memberships
            ):
                found.append(home)
        return found or ["resident"]

    @property
    def home(self) -> str:
        homes = self.homes
        if self.chosen is not None and self.chosen in homes:
            return self.chosen
        return homes[0]

    def organization(self, kind: str) -> int | None:
        return next((m.organization_id for m in self.memberships if m.organization_kind == kind), None)
