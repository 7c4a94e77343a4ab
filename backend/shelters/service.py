"""Rules and transactions of shelter intake.

Who sees what: caseworkers see their guidance centre's requests; shelter staff see requests
sent to their shelter, and only their own answer. The child's identity is given only to the
centre and, once placed, to the chosen shelter — until a set time after discharge
(MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE), fixed on the placement row when the child
leaves. Every view of a request is audited with the viewer's reason for access, inside the
transaction that reads it; a shelter's view after its access ended is audited as such.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import msgspec
from cryptography.exceptions import InvalidTag

from backend.audit import record_audit
from backend.auth import Caller, Member
from backend.context import AppContext
from backend.crypto import IdentityCipher
from backend.db import retry_transient
from backend.errors import (
    Conflict,
    IntegrityFailure,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
    register_constraint,
)
from backend.outbox import emit_all
from backend.rows import from_row, from_rows
from backend.shelters import queries
from backend.topics import SHELTER_VACANCY_BOARD, guidance_topic, shelter_topic
from schema.base import FieldError
from schema.events import (
    Event,
    IntakeCancelled,
    IntakeClosed,
    IntakePlaced,
    IntakeRequested,
    IntakeResponded,
    ShelterVacancyChanged,
)
from schema.shelters import (
    CurrentPlacement,
    IntakeCancel,
    IntakeRequest,
    IntakeRequestCreate,
    IntakeResponseCreate,
    IntakeSummary,
    Placement,
    PlacementCreate,
    PlacementStats,
    ShelterCategory,
    ShelterCategoryCreate,
    ShelterCategoryUpdate,
    Target,
    Vacancy,
)

register_constraint("placements_one_per_request", 409, "already-placed", "This child has already been placed")
register_constraint("shelter_units_within_capacity", 409, "over-capacity", "Capacity below the beds in use")
register_constraint("shelter_units_retired_empty", 409, "category-occupied", "A child still sleeps in this category")

CASEWORKER = Member("guidance_center", "caseworker")
SHELTER_STAFF = (Member("shelter", "staff"), Member("shelter", "admin"))


def _centers(caller: Caller) -> frozenset[int]:
    return caller.organization_ids("guidance_center", roles=("caseworker",))


def _shelters(caller: Caller) -> frozenset[int]:
    return caller.organization_ids("shelter", roles=("staff", "admin"))


def _placement(row: asyncpg.Record) -> Placement:
    return Placement(
        id=row["id"],
        request_id=row["request_id"],
        shelter_id=row["shelter_id"],
        category=row["category"],
        placed_at=row["placed_at"],
        discharged_at=row["discharged_at"],
        identity_access_until=row["identity_access_until"],
    )


def _summary(row: asyncpg.Record) -> IntakeSummary:
    fields = dict(row)
    minutes = fields.pop("minutes_to_placement")
    return IntakeSummary(**fields, minutes_to_placement=float(minutes) if minutes is not None else None)


class ShelterService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- beds ----------------------------------------------------------------------

    async def set_capacity(self, caller: Caller, shelter_id: int, category: str, capacity: int) -> Vacancy:
        if shelter_id not in _shelters(caller):
            raise NotFound()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(queries.UPSERT_UNIT, shelter_id, category, capacity, now)
            await emit_all(
                conn, [(SHELTER_VACANCY_BOARD, ShelterVacancyChanged(shelter_id=shelter_id, category=category))], at=now
            )
        return from_row(Vacancy, row)

    async def vacancies(self, shelter_id: int | None) -> list[Vacancy]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.VACANCIES, shelter_id)
        return from_rows(Vacancy, rows)

    # -- requests --------------------------------------------------------------------

    async def create_request(self, caller: Caller, data: IntakeRequestCreate) -> IntakeRequest:
        centers = sorted(_centers(caller))
        now = self.ctx.clock.now()
        wanted = list(dict.fromkeys(data.shelter_ids))
        async with self.ctx.acquire() as conn, conn.transaction():
            shelters = {r["id"] for r in await conn.fetch(queries.SHELTERS_AMONG, wanted)}
            unknown = [
                FieldError(field=f"$.shelterIds[{i}]", message="Not a shelter")
                for i, shelter_id in enumerate(data.shelter_ids)
                if shelter_id not in shelters
            ]
            if unknown:
                raise Unprocessable(slug="unknown-reference", errors=unknown)
            request_id = await conn.fetchval(
                queries.INSERT_REQUEST,
                centers[0],
                caller.account_id,
                now,
                data.age_years,
                data.sex,
                data.category,
                data.needs,
                data.urgency,
            )
            await conn.execute(queries.INSERT_TARGETS, request_id, wanted)
            await emit_all(conn, [(shelter_topic(s), IntakeRequested(request_id=request_id)) for s in wanted], at=now)
            return await self._view(conn, caller, request_id, action="intake.create")

    async def request(self, caller: Caller, request_id: int) -> IntakeRequest:
        async with self.ctx.acquire() as conn, conn.transaction():
            return await self._view(conn, caller, request_id, action="intake.read")

    async def requests(self, caller: Caller, before: int, limit: int) -> list[IntakeRequest]:
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.REQUESTS_OF_CENTERS, list(_centers(caller)), before, limit)
            rows += await conn.fetch(queries.REQUESTS_TO_SHELTERS, list(_shelters(caller)), before, limit)
            ids = sorted({r["id"] for r in rows}, reverse=True)[:limit]
            return [await self._view(conn, caller, request_id, action="intake.list") for request_id in ids]

    async def _view(self, conn: asyncpg.Connection, caller: Caller, request_id: int, *, action: str) -> IntakeRequest:
        """The request as this caller may see it, audited; 404 for anyone without a part in it."""
        request = await conn.fetchrow(queries.REQUEST, request_id)
        if request is None:
            raise NotFound()
        targets = await conn.fetch(queries.TARGETS, request_id)
        placement = await conn.fetchrow(queries.PLACEMENT_OF_REQUEST, request_id)
        own_shelters = [t for t in targets if t["shelter_id"] in _shelters(caller)]
        is_center = request["guidance_center_id"] in _centers(caller)
        if not is_center and not own_shelters:
            raise NotFound()
        now = self.ctx.clock.now()
        chosen = placement is not None and placement["shelter_id"] in _shelters(caller)
        access_ended = (
            chosen
            and not is_center
            and placement is not None
            and placement["identity_access_until"] is not None
            and now >= placement["identity_access_until"]
        )
        sees_identity = placement is not None and (is_center or (chosen and not access_ended))
        reason = "caseworker of the requesting centre" if is_center else "shelter the request was sent to"
        if access_ended:
            assert placement is not None
            # Audited under its own action, so an auditor finds every look at the child's file after
            # the shelter's access ended without reading the reasons of ordinary views.
            suffix = ".identity_expired"
            reason += f" (placed here; identity access ended {placement['identity_access_until'].isoformat()})"
        elif sees_identity:
            suffix = ".identity"
            reason += " (placed here)" if chosen and not is_center else ""
        else:
            suffix = ""
        await record_audit(
            conn,
            actor=caller.account_id,
            action=action + suffix,
            subject_type="intake_request",
            subject_id=request_id,
            reason=reason,
            at=now,
        )
        child = None
        if sees_identity:
            assert placement is not None
            try:
                child = self._cipher().open(
                    placement["identity_key_id"],
                    placement["identity_nonce"],
                    placement["identity_ciphertext"],
                    request_id,
                )
            except (InvalidTag, KeyError) as exc:
                raise IntegrityFailure(f"identity of intake request {request_id} does not open") from exc
        return IntakeRequest(
            id=request["id"],
            guidance_center_id=request["guidance_center_id"],
            created_at=request["created_at"],
            age_years=request["age_years"],
            sex=request["sex"],
            category=request["category"],
            needs=list(request["needs"]),
            urgency=request["urgency"],
            status=request["status"],
            targets=[from_row(Target, t) for t in (targets if is_center else own_shelters)],
            placement=_placement(placement) if placement is not None and (is_center or chosen) else None,
            child=child,
        )

    async def respond(self, caller: Caller, request_id: int, data: IntakeResponseCreate) -> Target:
        if data.decision == "decline" and data.reason is None:
            raise Unprocessable(errors=[FieldError(field="$.reason", message="Say why the shelter declines")])
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            request = await conn.fetchrow(queries.REQUEST, request_id)
            if request is None:
                raise NotFound()
            target = await conn.fetchrow(queries.TARGET_OF_SHELTERS, request_id, list(_shelters(caller)))
            if target is None:
                raise NotFound()
            if request["status"] != "open" or target["status"] not in ("pending", "accepted", "declined"):
                raise Conflict("This request is no longer open.", slug="request-closed")
            status = "accepted" if data.decision == "accept" else "declined"
            row = await conn.fetchrow(
                queries.ANSWER_TARGET, request_id, target["shelter_id"], status, now, caller.account_id, data.reason
            )
            await record_audit(
                conn,
                actor=caller.account_id,
                action=f"intake.{status}",
                subject_type="intake_request",
                subject_id=request_id,
                reason=data.reason,
                at=now,
            )
            event = IntakeResponded(request_id=request_id, shelter_id=target["shelter_id"], decision=status)
            await emit_all(conn, [(guidance_topic(request["guidance_center_id"]), event)], at=now)
        return from_row(Target, row)

    def _cipher(self) -> IdentityCipher:
        if self.ctx.identity is None:
            raise ServiceUnavailable("Identity keys are not configured; no child record can be stored or read.")
        return self.ctx.identity

    @retry_transient
    async def place(self, caller: Caller, request_id: int, data: PlacementCreate) -> IntakeRequest:
        cipher = self._cipher()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            request = await conn.fetchrow(queries.REQUEST_FOR_UPDATE, request_id)
            if request is None or request["guidance_center_id"] not in _centers(caller):
                raise NotFound()
            if request["status"] != "open":
                raise Conflict(f"This request is already {request['status']}.", slug="already-placed")
            target = await conn.fetchrow(queries.TARGET_FOR_UPDATE, request_id, data.shelter_id)
            if target is None or target["status"] != "accepted":
                raise Conflict("That shelter has not accepted this request.", slug="not-accepted")
            if await conn.fetchval(queries.TAKE_BED, data.shelter_id, request["category"], now) is None:
                raise Conflict("No free bed in that category at the shelter.", slug="shelter-full")
            key_id, nonce, ciphertext = cipher.seal(data.child, request_id)
            await conn.fetchrow(
                queries.INSERT_PLACEMENT,
                request_id,
                data.shelter_id,
                request["category"],
                caller.account_id,
                now,
                key_id,
                nonce,
                ciphertext,
            )
            await conn.execute(queries.MARK_PLACED, request_id, now)
            targets = await conn.fetch(queries.CLOSE_OTHER_TARGETS, request_id, data.shelter_id)
            events: list[tuple[str, Event]] = [
                (
                    guidance_topic(request["guidance_center_id"]),
                    IntakePlaced(request_id=request_id, shelter_id=data.shelter_id),
                ),
                (shelter_topic(data.shelter_id), IntakePlaced(request_id=request_id, shelter_id=data.shelter_id)),
                (
                    SHELTER_VACANCY_BOARD,
                    ShelterVacancyChanged(shelter_id=data.shelter_id, category=request["category"]),
                ),
            ]
            events += [
                (shelter_topic(t["shelter_id"]), IntakeClosed(request_id=request_id))
                for t in targets
                if t["status"] == "closed"
            ]
            await emit_all(conn, events, at=now)
            return await self._view(conn, caller, request_id, action="intake.place")

    async def discharge(self, caller: Caller, placement_id: int) -> Placement:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            placement = await conn.fetchrow(queries.PLACEMENT_FOR_UPDATE, placement_id)
            if placement is None or (
                placement["shelter_id"] not in _shelters(caller)
                and placement["guidance_center_id"] not in _centers(caller)
            ):
                raise NotFound()
            if placement["discharged_at"] is not None:
                raise Conflict("Already discharged.", slug="already-discharged")
            # Fixed now rather than computed at each read: the end of access is on record from the
            # moment the child leaves, and changing the setting later does not reopen old files.
            access_until = now + timedelta(days=self.ctx.settings.shelter_identity_days_after_discharge)
            row = await conn.fetchrow(queries.DISCHARGE, placement_id, now, caller.account_id, access_until)
            await conn.execute(queries.FREE_BED, placement["shelter_id"], placement["category"], now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="intake.discharge",
                subject_type="intake_request",
                subject_id=placement["request_id"],
                reason=f"shelter {placement['shelter_id']} sees the child's identity until {access_until.isoformat()}",
                at=now,
            )
            event = ShelterVacancyChanged(shelter_id=placement["shelter_id"], category=placement["category"])
            await emit_all(conn, [(SHELTER_VACANCY_BOARD, event)], at=now)
        return _placement(row)

    # -- back office: bed categories ----------------------------------------------------

    def _own_shelter(self, caller: Caller, shelter_id: int) -> None:
        if shelter_id not in _shelters(caller):
            raise NotFound()

    async def categories(self, caller: Caller, shelter_id: int, include_retired: bool) -> list[ShelterCategory]:
        self._own_shelter(caller, shelter_id)
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.CATEGORIES, shelter_id, include_retired)
        return from_rows(ShelterCategory, rows)

    async def create_category(self, caller: Caller, shelter_id: int, data: ShelterCategoryCreate) -> ShelterCategory:
        self._own_shelter(caller, shelter_id)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                queries.CREATE_CATEGORY, shelter_id, data.category, data.label, data.capacity, now
            )
            if row is None:
                raise Conflict("This shelter already has that category; rename it or change its beds.",
                               slug="category-exists")  # fmt: skip
            await self._category_changed(conn, caller, shelter_id, data.category, "create", now)
        return from_row(ShelterCategory, row)

    async def update_category(
        self, caller: Caller, shelter_id: int, category: str, data: ShelterCategoryUpdate
    ) -> ShelterCategory:
        self._own_shelter(caller, shelter_id)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(queries.CATEGORY_FOR_UPDATE, shelter_id, category)
            if current is None or current["retired_at"] is not None:
                raise NotFound()
            label = current["label"] if data.label is msgspec.UNSET else data.label
            capacity = current["capacity"] if data.capacity is msgspec.UNSET else data.capacity
            # Below the beds in use, the CHECK shelter_units_within_capacity answers 409 over-capacity.
            row = await conn.fetchrow(queries.UPDATE_CATEGORY, shelter_id, category, label, capacity, now)
            await self._category_changed(conn, caller, shelter_id, category, "update", now)
        return from_row(ShelterCategory, row)

    async def retire_category(self, caller: Caller, shelter_id: int, category: str) -> None:
        self._own_shelter(caller, shelter_id)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            # The row lock orders this after (or before) any placement taking a bed here.
            current = await conn.fetchrow(queries.CATEGORY_FOR_UPDATE, shelter_id, category)
            if current is None or current["retired_at"] is not None:
                raise NotFound()
            if current["occupied"] > 0:
                raise Conflict(
                    f"{current['occupied']} child(ren) still sleep in this category; discharge them first.",
                    slug="category-occupied",
                )
            await conn.execute(queries.RETIRE_CATEGORY, shelter_id, category, now)
            await self._category_changed(conn, caller, shelter_id, category, "retire", now)

    async def _category_changed(
        self, conn: asyncpg.Connection, caller: Caller, shelter_id: int, category: str, change: str, at: datetime
    ) -> None:
        await record_audit(
            conn,
            actor=caller.account_id,
            action=f"shelter.category.{change}",
            subject_type="organization",
            subject_id=shelter_id,
            reason=f"category {category}",
            at=at,
        )
        await emit_all(
            conn, [(SHELTER_VACANCY_BOARD, ShelterVacancyChanged(shelter_id=shelter_id, category=category))], at=at
        )

    # -- back office: who is here, and the centre's requests -------------------------------

    async def current_placements(
        self, caller: Caller, shelter_id: int, after: int, limit: int
    ) -> list[CurrentPlacement]:
        """The children placed here now, with their identity (this shelter was chosen for each);
        one audit row per child shown."""
        self._own_shelter(caller, shelter_id)
        cipher = self._cipher()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.CURRENT_PLACEMENTS, shelter_id, after, limit)
            items = []
            for row in rows:
                await record_audit(
                    conn,
                    actor=caller.account_id,
                    action="intake.placements.identity",
                    subject_type="intake_request",
                    subject_id=row["request_id"],
                    reason="shelter the child is placed at (current placements list)",
                    at=now,
                )
                try:
                    child = cipher.open(
                        row["identity_key_id"], row["identity_nonce"], row["identity_ciphertext"], row["request_id"]
                    )
                except (InvalidTag, KeyError) as exc:
                    raise IntegrityFailure(f"identity of intake request {row['request_id']} does not open") from exc
                items.append(from_row(CurrentPlacement, row, child=child))
        return items

    async def center_requests(
        self, caller: Caller, center_id: int, status: str | None, before: int, limit: int
    ) -> list[IntakeSummary]:
        """The centre's requests by state, with minutes to placement; nameless, so not audited."""
        if center_id not in _centers(caller):
            raise NotFound()
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.CENTER_REQUESTS, center_id, status, before, limit)
        return [_summary(r) for r in rows]

    async def cancel(self, caller: Caller, request_id: int, data: IntakeCancel) -> IntakeSummary:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            # The same row lock as placement: a cancel and a placement never both succeed.
            request = await conn.fetchrow(queries.REQUEST_FOR_UPDATE, request_id)
            if request is None or request["guidance_center_id"] not in _centers(caller):
                raise NotFound()
            if request["status"] != "open":
                raise Conflict(f"This request is already {request['status']}.", slug="request-closed")
            await conn.execute(queries.CANCEL_REQUEST, request_id, now, caller.account_id, data.reason)
            shelters = [r["shelter_id"] for r in await conn.fetch(queries.CLOSE_OPEN_TARGETS, request_id)]
            await record_audit(
                conn,
                actor=caller.account_id,
                action="intake.cancel",
                subject_type="intake_request",
                subject_id=request_id,
                reason=data.reason,
                at=now,
            )
            center = request["guidance_center_id"]
            events: list[tuple[str, Event]] = [
                (shelter_topic(s), IntakeCancelled(request_id=request_id)) for s in shelters
            ]
            events.append((guidance_topic(center), IntakeCancelled(request_id=request_id)))
            await emit_all(conn, events, at=now)
            row = await conn.fetchrow(queries.CENTER_REQUESTS, center, None, request_id + 1, 1)
        return _summary(row)

    async def placement_stats(self, start: datetime, end: datetime) -> PlacementStats:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.PLACEMENT_STATS, start, end)
        return PlacementStats(
            placements=row["placements"],
            mean_minutes=float(row["mean"]) if row["mean"] is not None else None,
            median_minutes=row["median"],
            p90_minutes=row["p90"],
        )
