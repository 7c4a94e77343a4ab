"""Rules and transactions of the organisations back office.

Who may do what:
- the prefecture admin: every organisation — list, view, edit, deactivate and reactivate, manage
  members, read the whole audit log;
- an organisation's admin: their own organisation(s) only — view and edit (not its municipality,
  which decides residents' fees and priorities), manage its members, read its part of the audit
  log (see `audit_log`). Any other organisation answers 404.

Access ends at once. Callers are resolved from the database on every request (their memberships
joined to *active* organisations), so a removed role or a deactivated organisation grants nothing
from the token's next request on; in the same transaction `end_live_access` tells every gateway
to close the account's sockets opened with tickets that may name the lost topics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from backend.accounts.service import end_live_access
from backend.audit import record_audit
from backend.auth import Caller
from backend.context import AppContext
from backend.errors import Conflict, Forbidden, NotFound, Unprocessable
from backend.organizations import queries
from backend.outbox import emit_all
from backend.rows import from_row, from_rows
from backend.topics import organization_topic, user_topic
from schema.accounts import Role
from schema.base import FieldError
from schema.events import Event, MembershipChanged, OrganizationChanged
from schema.organizations import (
    AuditEntry,
    Deactivation,
    MemberUpdate,
    OrganizationDetail,
    OrganizationMember,
    OrganizationUpdate,
)


def _detail(row: asyncpg.Record) -> OrganizationDetail:
    return from_row(OrganizationDetail, row)


def _member(row: asyncpg.Record) -> OrganizationMember:
    return from_row(OrganizationMember, row)


def administered(caller: Caller) -> frozenset[int] | None:
    """The organisations whose back office the caller runs; None means all (prefecture admin)."""
    if caller.is_prefecture_admin:
        return None
    return caller.organization_ids(roles=("admin",))


def _require_admin(caller: Caller, organization_id: int) -> None:
    scope = administered(caller)
    if scope is not None and organization_id not in scope:
        raise NotFound()


class OrganizationService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- organisations -------------------------------------------------------------

    async def organizations(
        self, caller: Caller, kind: str | None, municipality_id: int | None, after: int, limit: int
    ) -> list[OrganizationDetail]:
        scope = administered(caller)
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(
                queries.ORGANIZATIONS, kind, municipality_id, None if scope is None else sorted(scope), after, limit
            )
        return [_detail(r) for r in rows]

    async def organization(self, caller: Caller, organization_id: int) -> OrganizationDetail:
        # Any member may look at their own organisation (its name and address are no secret to them).
        if not caller.is_prefecture_admin and organization_id not in caller.organization_ids():
            raise NotFound()
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.ORGANIZATION, organization_id)
        if row is None:
            raise NotFound()
        return _detail(row)

    async def update(self, caller: Caller, organization_id: int, data: OrganizationUpdate) -> OrganizationDetail:
        _require_admin(caller, organization_id)
        if data.municipality_id is not msgspec.UNSET and not caller.is_prefecture_admin:
            raise Forbidden(
                "Only the prefecture moves an organisation to another municipality.",
                errors=[FieldError(field="$.municipalityId", message="Only the prefecture admin may change this")],
            )
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.ORGANIZATION_FOR_UPDATE, organization_id)
            if current is None:
                raise NotFound()
            merged: dict[str, Any] = {
                field: current[field] if getattr(data, attr) is msgspec.UNSET else getattr(data, attr)
                for field, attr in (
                    ("name", "name"),
                    ("address", "address"),
                    ("lat", "lat"),
                    ("lon", "lon"),
                    ("municipality_id", "municipality_id"),
                )
            }
            if (merged["lat"] is None) != (merged["lon"] is None):
                missing = "$.lon" if merged["lon"] is None else "$.lat"
                raise Unprocessable(errors=[FieldError(field=missing, message="Give latitude and longitude together")])
            if current["kind"] == "municipality" and merged["municipality_id"] is None:
                raise Unprocessable(errors=[FieldError(field="$.municipalityId", message="A municipality needs it")])
            if merged["municipality_id"] is not None and not await conn.fetchval(
                queries.MUNICIPALITY_EXISTS, merged["municipality_id"]
            ):
                raise Unprocessable(
                    slug="unknown-reference",
                    errors=[FieldError(field="$.municipalityId", message="No such municipality")],
                )
            row = await conn.fetchrow(
                queries.UPDATE_ORGANIZATION,
                organization_id,
                merged["name"],
                merged["address"],
                merged["lat"],
                merged["lon"],
                merged["municipality_id"],
            )
            changed = sorted(f for f in merged if merged[f] != current[f])
            await record_audit(
                conn,
                actor=caller.account_id,
                action="organization.update",
                subject_type="organization",
                subject_id=organization_id,
                reason="changed: " + (", ".join(changed) or "nothing"),
                at=now,
            )
            topic = organization_topic(row["kind"], organization_id)
            await emit_all(conn, [(topic, OrganizationChanged(organization_id=organization_id))], at=now)
        return _detail(row)

    async def deactivate(self, caller: Caller, organization_id: int, data: Deactivation) -> OrganizationDetail:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.ORGANIZATION_FOR_UPDATE, organization_id)
            if current is None:
                raise NotFound()
            if current["kind"] == "prefecture":
                # Its admins are the only ones who could undo it.
                raise Conflict("The prefecture itself cannot be deactivated.", slug="cannot-deactivate-prefecture")
            if not current["active"]:
                raise Conflict("This organisation is already deactivated.", slug="already-deactivated")
            row = await conn.fetchrow(queries.SET_DEACTIVATED, organization_id, now, caller.account_id, data.reason)
            await self._members_lose_live_access(conn, organization_id, now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="organization.deactivate",
                subject_type="organization",
                subject_id=organization_id,
                reason=data.reason,
                at=now,
            )
        return _detail(row)

    async def reactivate(self, caller: Caller, organization_id: int) -> OrganizationDetail:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.ORGANIZATION_FOR_UPDATE, organization_id)
            if current is None:
                raise NotFound()
            if current["active"]:
                raise Conflict("This organisation is active.", slug="already-active")
            row = await conn.fetchrow(queries.SET_DEACTIVATED, organization_id, None, None, None)
            members = [r["account_id"] for r in await conn.fetch(queries.MEMBER_ACCOUNTS, organization_id)]
            await record_audit(
                conn,
                actor=caller.account_id,
                action="organization.reactivate",
                subject_type="organization",
                subject_id=organization_id,
                reason=None,
                at=now,
            )
            await emit_all(
                conn, [(user_topic(a), OrganizationChanged(organization_id=organization_id)) for a in members], at=now
            )
        return _detail(row)

    async def _members_lose_live_access(self, conn: asyncpg.Connection, organization_id: int, at: datetime) -> None:
        members = [r["account_id"] for r in await conn.fetch(queries.MEMBER_ACCOUNTS, organization_id)]
        for account_id in members:
            await end_live_access(conn, account_id=account_id, session_id=None, at=at)
        if members:
            # Their clients refresh /v1/me (and reconnect with the topics they still have).
            await emit_all(
                conn, [(user_topic(a), OrganizationChanged(organization_id=organization_id)) for a in members], at=at
            )

    # -- members -------------------------------------------------------------------

    async def members(self, caller: Caller, organization_id: int, after: int, limit: int) -> list[OrganizationMember]:
        _require_admin(caller, organization_id)
        async with self.ctx.acquire() as conn:
            if await conn.fetchrow(queries.ORGANIZATION, organization_id) is None:
                raise NotFound()
            rows = await conn.fetch(queries.MEMBERS, organization_id, after, limit)
        return [_member(r) for r in rows]

    async def change_role(
        self, caller: Caller, organization_id: int, account_id: int, data: MemberUpdate
    ) -> OrganizationMember:
        row = await self._change(caller, organization_id, account_id, data.role)
        assert row is not None  # a role was granted
        return _member(row)

    async def remove(self, caller: Caller, organization_id: int, account_id: int) -> None:
        await self._change(caller, organization_id, account_id, None)

    async def _change(
        self, caller: Caller, organization_id: int, account_id: int, role: Role | None
    ) -> asyncpg.Record | None:
        """The member's roles become exactly `role` (none: removed), under the organisation's lock."""
        _require_admin(caller, organization_id)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            organization = await conn.fetchrow(queries.ORGANIZATION_FOR_UPDATE, organization_id)
            if organization is None:
                raise NotFound()
            held = {r["role"] for r in await conn.fetch(queries.ROLES_OF_MEMBER, organization_id, account_id)}
            if not held:
                raise NotFound("This account is not a member of the organisation.")
            loses_admin = "admin" in held and role != "admin"
            if (
                loses_admin
                and not caller.is_prefecture_admin
                and await conn.fetchval(queries.OTHER_ADMINS, organization_id, account_id) == 0
            ):
                raise Conflict(
                    "The organisation would have no admin left; name another admin first.", slug="last-admin"
                )
            if held == {role}:
                unchanged: asyncpg.Record | None = await conn.fetchrow(queries.MEMBER, organization_id, account_id)
                return unchanged
            ended = await conn.fetch(queries.END_ROLES, organization_id, account_id, role, now, caller.account_id)
            if role is not None:
                await conn.execute(queries.GRANT_ROLE, organization_id, account_id, role, now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="membership.change" if role is not None else "membership.remove",
                subject_type="organization",
                subject_id=organization_id,
                reason=f"account {account_id}: {', '.join(sorted(held))} → {role or 'no role'}"
                + (f" (ended {', '.join(sorted(r['role'] for r in ended))})" if ended else ""),
                at=now,
            )
            # Tickets issued until now may name topics of the old roles: close those sockets.
            await end_live_access(conn, account_id=account_id, session_id=None, at=now)
            events: list[tuple[str, Event]] = [
                (user_topic(account_id), MembershipChanged(organization_id=organization_id, role=role))
            ]
            await emit_all(conn, events, at=now)
            if role is None:
                return None
            changed: asyncpg.Record | None = await conn.fetchrow(queries.MEMBER, organization_id, account_id)
            return changed

    # -- audit log -------------------------------------------------------------------

    async def audit_log(
        self,
        caller: Caller,
        *,
        subject_type: str | None,
        subject_id: str | None,
        actor: int | None,
        start: datetime | None,
        end: datetime | None,
        before: int,
        limit: int,
    ) -> list[AuditEntry]:
        """Rows the caller may read: all for the prefecture admin; for an organisation admin, rows
        about their organisation itself and rows whose actor was a member of it at the time.

        Reading the log is itself audited (with the filters), so an auditor sees who looked.
        """
        scope = administered(caller)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                queries.AUDIT,
                subject_type,
                subject_id,
                actor,
                start,
                end,
                before,
                None if scope is None else sorted(scope),
                limit,
            )
            filters = {
                "subjectType": subject_type,
                "subjectId": subject_id,
                "actor": actor,
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
            }
            await record_audit(
                conn,
                actor=caller.account_id,
                action="audit.read",
                subject_type="audit",
                subject_id="all" if scope is None else ",".join(map(str, sorted(scope))),
                reason=" ".join(f"{k}={v}" for k, v in filters.items() if v is not None) or None,
                at=now,
            )
        return from_rows(AuditEntry, rows)
