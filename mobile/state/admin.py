"""The administrator's home: the organisation's members and pending invitations, the audit log
(who read or changed which record), and for the prefecture's admin the weekly dashboard and every
organisation (組織): listed page by page, created, renamed, deactivated and reactivated, each one's
members and invitations opened in the members section."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args
from urllib.parse import urlencode

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.accounts import Invitation, OrganizationKind, Role
from schema.events import Event
from schema.facilities import Municipality
from schema.organizations import AuditEntry, OrganizationDetail, OrganizationMember
from schema.stats import StatsOverview

AUDIT_PAGE = 20
ORGANIZATION_PAGE = 20
# Walking to the newest organisation's page (ids ascend) stops here: a filter that leaves more
# pages than this is a list nobody reads to the end anyway.
MAX_PAGES_WALKED = 50
Section = Literal["organizations", "members", "audit", "dashboard"]
ORGANIZATION_KINDS: tuple[OrganizationKind, ...] = get_args(OrganizationKind)
# What the prefecture creates: a second prefecture is not an organisation anyone sets up by hand.
CREATABLE_KINDS = tuple(kind for kind in ORGANIZATION_KINDS if kind != "prefecture")
NAME_MAX = 200  # schema.accounts.OrganizationName
# The roles an organisation of each kind hands out; the rest have staff and admins.
ROLES_BY_KIND: dict[str, tuple[Role, ...]] = {
    "hospital": ("er_staff", "staff", "admin"),
    "fire_department": ("paramedic", "admin"),
    "guidance_center": ("caseworker", "admin"),
}
DEFAULT_ROLES: tuple[Role, ...] = ("staff", "admin")


@dataclass
class AdminModel:
    api: MusubiApi
    # The organisation whose members and invitations the members section shows: the admin's own,
    # or (prefecture admin) the one chosen in the organisations list.
    organization_id: int
    organization_kind: str = "municipality"
    section: Section = "members"
    organization_name: str = ""  # of a chosen organisation; "" while it is the admin's own
    members: list[OrganizationMember] = field(default_factory=list)
    invitations: list[Invitation] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)  # one page, newest first
    # The audit filter, bound to its fields: subject kind ("child"), record id ("42"), actor account id.
    subject_type: str = ""
    subject_id: str = ""
    actor: str = ""
    # Where each page after the first starts (the last id of the page before), for "newer" to go back.
    cursors: list[str] = field(default_factory=list)  # the server's cursor of each page shown after the first
    next_cursor: str | None = None  # the page after this one, as the server's Link header named it
    more: bool = False  # a full page came back: there may be older entries
    stats: StatsOverview | None = None  # the prefecture admin's dashboard; None for others
    municipalities: dict[int, str] = field(default_factory=dict)  # id → name, for the dashboard's bars
    # The invitation form.
    email: str = ""
    role: Role = "staff"
    invitations_sent: int = 0
    # The organisations list (prefecture admin), one page, filtered by kind and municipality.
    organizations: list[OrganizationDetail] = field(default_factory=list)
    kind_filter: OrganizationKind | None = None
    municipality_filter: int | None = None
    organization_cursors: list[str] = field(default_factory=list)  # as `cursors`, for the organisations
    organization_next: str | None = None
    municipalities_en: dict[int, str] = field(default_factory=dict)
    # The form for a new organisation, bound to its fields.
    creating: bool = False
    new_kind: OrganizationKind = "nursery"
    new_name: str = ""
    new_municipality: int | None = None
    organizations_created: int = 0  # a fresh name field after each, as with `invitations_sent`
    # Renaming one organisation in its row; the reason a deactivation asks for.
    renaming: int | None = None
    rename_to: str = ""
    deactivation_reason: str = ""
    notice: str | None = None  # a translation key: what the last action did
    error: Failure | None = None
    # The admin's own organisation, to come back to after looking at another's members.
    home_id: int = field(init=False)
    home_kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.home_id, self.home_kind = self.organization_id, self.organization_kind
        if self.role not in self.roles:
            self.role = self.roles[0]

    @property
    def roles(self) -> tuple[Role, ...]:
        return ROLES_BY_KIND.get(self.organization_kind, DEFAULT_ROLES)

    @property
    def sees_dashboard(self) -> bool:
        """The statistics span the prefecture: only its admin reads them."""
        return self.home_kind == "prefecture"

    @property
    def sees_organizations(self) -> bool:
        """Only the prefecture's admin lists, creates and deactivates organisations (the server's rule)."""
        return self.home_kind == "prefecture"

    @property
    def elsewhere(self) -> bool:
        """The members section shows another organisation than the admin's own."""
        return self.organization_id != self.home_id

    @property
    def organization_page_number(self) -> int:
        return len(self.organization_cursors) + 1

    @property
    def new_needs_municipality(self) -> bool:
        """The server refuses a municipality without one; for the other kinds it is optional."""
        return self.new_kind == "municipality"

    @property
    def page_number(self) -> int:
        return len(self.cursors) + 1

    def _audit_filter(self) -> dict[str, Any]:
        return {
            "subjectType": self.subject_type.strip() or None,
            "subjectId": self.subject_id.strip() or None,
            "actor": self.actor.strip() or None,
        }

    async def load(self) -> None:
        base = f"/v1/organizations/{self.organization_id}"
        self.members = msgspec.convert(await self.api.get(f"{base}/members"), list[OrganizationMember])
        self.invitations = msgspec.convert(await self.api.get(f"{base}/invitations"), list[Invitation])
        cursor = self.cursors[-1] if self.cursors else None
        rows, self.next_cursor = await self.api.get_page(
            "/v1/audit", **self._audit_filter(), cursor=cursor, limit=AUDIT_PAGE
        )
        self.audit = msgspec.convert(rows, list[AuditEntry])
        self.more = self.next_cursor is not None
        if self.sees_dashboard and self.section == "dashboard":
            self.stats = msgspec.convert(await self.api.get("/v1/stats/overview"), StatsOverview)
        if self.sees_organizations and self.section == "organizations":
            await self._load_organizations()
        if self.section in ("dashboard", "organizations") and not self.municipalities:
            listed = msgspec.convert(await self.api.get("/v1/municipalities"), list[Municipality])
            self.municipalities = {m.id: m.name_ja for m in listed}
            self.municipalities_en = {m.id: m.name_en for m in listed}

    def _organization_filter(self) -> dict[str, Any]:
        return {"kind": self.kind_filter, "municipalityId": self.municipality_filter}

    async def _load_organizations(self) -> None:
        cursor = self.organization_cursors[-1] if self.organization_cursors else None
        rows, self.organization_next = await self.api.get_page(
            "/v1/organizations", **self._organization_filter(), cursor=cursor, limit=ORGANIZATION_PAGE
        )
        self.organizations = msgspec.convert(rows, list[OrganizationDetail])

    async def _do(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run one action, then refetch: the screen shows what the server now holds."""
        self.error = None
        self.notice = None
        try:
            await work()
        except ApiError as error:
            self.error = error
            return False
        finally:
            try:
                await self.load()
            except ApiError as error:
                self.error = self.error or error
        return True

    async def resync(self) -> None:
        await self._do(_nothing)

    async def on_event(self, event: Event) -> None:
        del event  # nothing here is pushed live; the lists are refetched on demand

    async def show(self, section: Section) -> None:
        self.section = section
        self.notice = None
        if section == "organizations":
            self._come_home()  # the list is the way back from another organisation's members
        await self.resync()

    # -- organisations (prefecture admin) ------------------------------------------------------

    def _come_home(self) -> None:
        self._look_at(self.home_id, self.home_kind, "")

    def _look_at(self, organization_id: int, kind: str, name: str) -> None:
        if organization_id != self.organization_id:
            self.email = ""
            self.invitations_sent += 1  # a fresh e-mail field: the old one holds another organisation's typing
        self.organization_id, self.organization_kind, self.organization_name = organization_id, kind, name
        if self.role not in self.roles:
            self.role = self.roles[0]

    async def manage_members(self, organization: OrganizationDetail) -> None:
        """Open this organisation's members and invitations (the organisations list leads back)."""
        self._look_at(organization.id, organization.kind, organization.name)
        self.section = "members"
        self.notice = None
        await self.resync()

    async def filter_kind(self, kind: OrganizationKind | None) -> None:
        """Only organisations of this kind (None: every kind), from the first page."""
        self.kind_filter = kind
        await self._first_organization_page()

    async def filter_municipality(self, municipality_id: int | None) -> None:
        """Only organisations in this municipality (None: anywhere), from the first page."""
        self.municipality_filter = municipality_id
        await self._first_organization_page()

    async def _first_organization_page(self) -> None:
        self.organization_cursors = []
        self.notice = None
        await self.resync()

    async def next_organizations(self) -> None:
        if self.organization_next is not None:
            self.organization_cursors.append(self.organization_next)
            await self.resync()

    async def previous_organizations(self) -> None:
        if self.organization_cursors:
            self.organization_cursors.pop()
            await self.resync()

    async def start_creating(self) -> None:
        self.creating = True
        self.notice = None

    async def stop_creating(self) -> None:
        self.creating = False
        self.error = None

    async def choose_new_kind(self, kind: OrganizationKind) -> None:
        self.new_kind = kind
        self.error = None

    async def choose_new_municipality(self, municipality_id: int | None) -> None:
        self.new_municipality = municipality_id
        self.error = None

    async def create_organization(self) -> bool:
        """Create the organisation of the form, then show it: the list turns to its kind and
        municipality and to the last page, where the newest stands (the list runs by id)."""
        name = self.new_name.strip()
        if not name:
            self.error = "organization_name_needed"
            return False
        if len(name) > NAME_MAX:
            self.error = "organization_name_too_long"
            return False
        if self.new_needs_municipality and self.new_municipality is None:
            self.error = "organization_municipality_needed"
            return False
        body = {"kind": self.new_kind, "name": name, "municipalityId": self.new_municipality}
        self.error = self.notice = None
        try:
            await self.api.post("/v1/organizations", body)
        except ApiError as error:
            self.error = error
            return False
        self.kind_filter, self.municipality_filter = self.new_kind, self.new_municipality
        self.new_name = ""
        self.organizations_created += 1
        self.creating = False
        self.notice = "notice_organization_created"
        await self._turn_to_last_organization_page()
        return True

    async def _turn_to_last_organization_page(self) -> None:
        self.organization_cursors = []
        try:
            for _page in range(MAX_PAGES_WALKED):
                _rows, following = await self.api.get_page(
                    "/v1/organizations",
                    **self._organization_filter(),
                    cursor=self.organization_cursors[-1] if self.organization_cursors else None,
                    limit=ORGANIZATION_PAGE,
                )
                if following is None:
                    break
                self.organization_cursors.append(following)
            await self.load()
        except ApiError as error:
            self.error = error

    async def start_renaming(self, organization: OrganizationDetail) -> None:
        self.renaming, self.rename_to = organization.id, organization.name
        self.notice = None

    async def stop_renaming(self) -> None:
        self.renaming = None
        self.error = None

    async def rename(self) -> bool:
        if self.renaming is None:
            return False
        name = self.rename_to.strip()
        if not name:
            self.error = "organization_name_needed"
            return False
        if len(name) > NAME_MAX:
            self.error = "organization_name_too_long"
            return False
        path = f"/v1/organizations/{self.renaming}"
        if await self._do(lambda: self.api.request("PATCH", path, {"name": name})):
            self.renaming = None
            self.notice = "notice_organization_renamed"
            return True
        return False

    async def deactivate(self, organization_id: int) -> bool:
        """Deactivate with the reason typed in the confirmation (kept in the audit log)."""
        reason = self.deactivation_reason.strip()
        if not reason:
            self.error = "deactivation_reason_needed"
            return False
        path = f"/v1/organizations/{organization_id}/deactivate"
        if await self._do(lambda: self.api.post(path, {"reason": reason})):
            self.deactivation_reason = ""
            self.notice = "notice_organization_deactivated"
            return True
        return False

    async def reactivate(self, organization_id: int) -> bool:
        path = f"/v1/organizations/{organization_id}/reactivate"
        if await self._do(lambda: self.api.post(path)):
            self.notice = "notice_organization_reactivated"
            return True
        return False

    async def filter_audit(self, subject_type: str | None = None, subject_id: str | None = None) -> bool:
        """Apply the filter (the bound fields, or the values given) from the newest entry on."""
        if subject_type is not None:
            self.subject_type = subject_type
        if subject_id is not None:
            self.subject_id = subject_id
        if self.actor.strip() and not self.actor.strip().isdigit():
            self.error = "actor_id_digits"
            return False
        self.cursors = []
        return await self._do(_nothing)

    async def older(self) -> None:
        if self.next_cursor is not None:
            self.cursors.append(self.next_cursor)
            await self.resync()

    async def newer(self) -> None:
        if self.cursors:
            self.cursors.pop()
            await self.resync()

    async def audit_csv(self) -> bytes | None:
        """The filtered log as CSV for a spreadsheet (up to the server's CSV page, from the newest)."""
        self.error = None
        query = urlencode({k: v for k, v in {**self._audit_filter(), "format": "csv"}.items() if v is not None})
        try:
            return await self.api.download(f"/v1/audit?{query}")
        except ApiError as error:
            self.error = error
            return None

    async def choose_role(self, role: Role) -> None:
        self.role = role

    async def invite(self) -> bool:
        if not self.email.strip():
            self.error = "email_needed"
            return False
        body = {"email": self.email.strip(), "role": self.role}
        if await self._do(lambda: self.api.post(f"/v1/organizations/{self.organization_id}/invitations", body)):
            self.email = ""
            self.invitations_sent += 1
            return True
        return False

    async def revoke(self, invitation_id: int) -> bool:
        path = f"/v1/organizations/{self.organization_id}/invitations/{invitation_id}"
        return await self._do(lambda: self.api.request("DELETE", path))


async def _nothing() -> None:
    return None


# -- the dashboard: each chart is one series of (label, value) bars ------------------------------


@dataclass(frozen=True)
class Series:
    title: str  # a translation key
    points: list[tuple[str, float]]  # (bar label, value), in the order drawn
    percent: bool = False  # values are shares 0..1, drawn as %


def _week(day: date) -> str:
    return f"{day.month}/{day.day}"


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def dashboard(stats: StatsOverview, names: dict[int, str] | None = None) -> list[Series]:
    """The charts of the prefecture's dashboard, summed from the weekly rows the server sends;
    municipalities by name when `names` has them."""
    names = names or {}
    bookings: dict[date, float] = defaultdict(float)
    by_municipality: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # bookings, booked h, open h
    for row in stats.bookings:
        bookings[row.week] += row.bookings
        totals = by_municipality[row.municipality_id]
        totals[0] += row.bookings
        totals[1] += row.booked_hours
        totals[2] += row.open_hours
    childcare: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])  # reserved, capacity
    for c in stats.childcare:
        childcare[c.week][0] += c.reserved
        childcare[c.week][1] += c.capacity
    municipalities = sorted(by_municipality)
    return [
        Series("chart_bookings_per_week", [(_week(w), n) for w, n in sorted(bookings.items())]),
        Series(
            "chart_bookings_per_municipality", [(names.get(m, f"#{m}"), by_municipality[m][0]) for m in municipalities]
        ),
        Series(
            "chart_utilisation_per_municipality",
            [(names.get(m, f"#{m}"), _ratio(by_municipality[m][1], by_municipality[m][2])) for m in municipalities],
            percent=True,
        ),
        Series(
            "chart_childcare_fill_rate",
            [(_week(w), _ratio(r, cap)) for w, (r, cap) in sorted(childcare.items())],
            percent=True,
        ),
        Series(
            "chart_minutes_to_placement",
            [(_week(i.week), i.median_minutes_to_placement or 0.0) for i in stats.intake],
        ),
        Series("chart_inquiries_per_case", [(_week(e.week), e.mean_inquiries_per_case or 0.0) for e in stats.ems]),
        Series(
            "chart_share_4_or_more",
            [(_week(e.week), e.share_needing_4_or_more or 0.0) for e in stats.ems],
            percent=True,
        ),
    ]
