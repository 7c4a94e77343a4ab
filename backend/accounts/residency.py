"""Residency: an account declares its municipality; that municipality's staff verify it.

What a resident pays and where they stand in a lottery depends on the municipality they live
in, so the claim alone must not decide it: only a residency the municipality verified (at the
counter, from a residence record) counts, and the one SQL function verified_municipality() is
what fees, the booking horizon, the lottery's tier and the childcare quota read. A move is a
new declaration: the old residency (pending or verified) ends in the same transaction, so
between the move and the new verification the account is nobody's resident.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from backend.accounts import queries
from backend.audit import record_audit
from backend.auth import Caller
from backend.context import AppContext
from backend.errors import Conflict, NotFound, Unprocessable
from backend.outbox import emit_all
from backend.rows import from_row, from_rows
from backend.topics import municipality_topic, user_topic
from schema.accounts import Residency, ResidencyRequest
from schema.base import FieldError
from schema.events import Event, ResidencyChanged, ResidencyRequested


def _residency(row: asyncpg.Record) -> Residency:
    return from_row(Residency, row)


class ResidencyService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def declare(self, caller: Caller, municipality_id: int) -> Residency:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            if not await conn.fetchval(queries.MUNICIPALITY_EXISTS, municipality_id):
                raise Unprocessable(errors=[FieldError(field="$.municipalityId", message="No such municipality")])
            # Declarations of one account queue here, so two at once cannot both end the old one.
            await conn.fetchrow(queries.ACCOUNT_BY_ID_FOR_UPDATE, caller.account_id)
            live = await conn.fetchrow(queries.LIVE_RESIDENCY, caller.account_id)
            if live is not None and live["municipality_id"] == municipality_id:
                # Saying the same again is not a move: it keeps its place in the queue or its verification.
                return _residency(live)
            events: list[tuple[str, Event]] = []
            if live is not None:
                await self._end(conn, caller.account_id, live, "moved", now)
                events.append(
                    (
                        user_topic(caller.account_id),
                        ResidencyChanged(
                            residency_id=live["id"], municipality_id=live["municipality_id"], status="ended"
                        ),
                    )
                )
            row = await conn.fetchrow(queries.INSERT_RESIDENCY, caller.account_id, municipality_id, now)
            assert row is not None  # INSERT … RETURNING
            await record_audit(
                conn,
                actor=caller.account_id,
                action="residency.declare",
                subject_type="residency",
                subject_id=row["id"],
                reason=f"municipality {municipality_id}",
                at=now,
            )
            requested = ResidencyRequested(residency_id=row["id"], municipality_id=municipality_id)
            events.extend(
                (municipality_topic(office["id"]), requested)
                for office in await conn.fetch(queries.MUNICIPALITY_OFFICES, municipality_id)
            )
            await emit_all(conn, events, at=now)
        return _residency(row)

    async def _end(
        self, conn: asyncpg.Connection, account_id: int, live: asyncpg.Record, why: str, now: datetime
    ) -> None:
        await conn.execute(queries.END_RESIDENCY, live["id"], now)
        await record_audit(
            conn,
            actor=account_id,
            action="residency.end",
            subject_type="residency",
            subject_id=live["id"],
            reason=f"{why} (was {live['status']}, municipality {live['municipality_id']})",
            at=now,
        )

    async def current(self, caller: Caller) -> Residency:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.CURRENT_RESIDENCY, caller.account_id)
        if row is None:
            raise NotFound("No residency declared yet: PUT /v1/me/residency {municipalityId}.")
        return _residency(row)

    async def _require_staff_of(self, conn: asyncpg.Connection, caller: Caller, municipality_id: int) -> None:
        """404 unless the caller is staff of one of this municipality's offices: only the
        municipality that keeps the residence record can vouch for it."""
        own = caller.organization_ids("municipality", roles=("staff", "admin"))
        rows = await conn.fetch(queries.MUNICIPALITIES_OF_ORGANIZATIONS, list(own))
        if municipality_id not in {r["municipality_id"] for r in rows}:
            raise NotFound()

    async def queue(self, caller: Caller, municipality_id: int, after: int, limit: int) -> list[ResidencyRequest]:
        async with self.ctx.acquire() as conn:
            await self._require_staff_of(conn, caller, municipality_id)
            rows = await conn.fetch(queries.RESIDENCY_QUEUE, municipality_id, after, limit)
        return from_rows(ResidencyRequest, rows)

    async def decide(
        self, caller: Caller, municipality_id: int, residency_id: int, *, approve: bool, reason: str | None
    ) -> Residency:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._require_staff_of(conn, caller, municipality_id)
            current = await conn.fetchrow(queries.RESIDENCY_FOR_DECISION, residency_id, municipality_id)
            if current is None:
                raise NotFound()
            status = "verified" if approve else "declined"
            row = await conn.fetchrow(
                queries.DECIDE_RESIDENCY, residency_id, status, now, caller.account_id, None if approve else reason
            )
            if row is None:
                raise Conflict(f"This declaration is already {current['status']}.", slug="residency-decided")
            await record_audit(
                conn,
                actor=caller.account_id,
                action="residency.approve" if approve else "residency.decline",
                subject_type="residency",
                subject_id=residency_id,
                reason=reason,
                at=now,
            )
            changed = ResidencyChanged(residency_id=residency_id, municipality_id=municipality_id, status=status)
            await emit_all(conn, [(user_topic(current["account_id"]), changed)], at=now)
        return _residency(row)
