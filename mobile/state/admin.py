"""The administrator's home: the organisation's members and pending invitations, the audit log
(who read or changed which record), and for the prefecture's admin the weekly dashboard."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.accounts import Invitation, Role
from schema.events import Event
from schema.facilities import Municipality
from schema.organizations import AuditEntry, OrganizationMember
from schema.stats import StatsOverview

AUDIT_PAGE = 20
Section = Literal["members", "audit", "dashboard"]
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
    organization_id: int
    organization_kind: str = "municipality"
    section: Section = "members"
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
    error: Failure | None = None

    def __post_init__(self) -> None:
        if self.role not in self.roles:
            self.role = self.roles[0]

    @property
    def roles(self) -> tuple[Role, ...]:
        return ROLES_BY_KIND.get(self.organization_kind, DEFAULT_ROLES)

    @property
    def sees_dashboard(self) -> bool:
        """The statistics span the prefecture: only its admin reads them."""
        return self.organization_kind == "prefecture"

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
            if not self.municipalities:
                listed = msgspec.convert(await self.api.get("/v1/municipalities"), list[Municipality])
                self.municipalities = {m.id: m.name_ja for m in listed}

    async def _do(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run one action, then refetch: the screen shows what the server now holds."""
        self.error = None
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
        await self.resync()

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
