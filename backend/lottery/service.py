"""Rules and transactions of lotteries.

The seed is drawn from the OS at creation and only its SHA-256 is shown until the draw, so
neither applicants nor staff can steer the outcome; after the draw the seed, the
pseudonymised applications and the slots already taken are published, and the result can be
recomputed by anyone (backend/lottery/draw.py). Winners get provisional bookings through the
same table and exclusion constraint as every other booking, so a slot is never given twice.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from backend.core.audit import record_audit
from backend.core.auth import Caller
from backend.core.command_keys import CommandKey, answering
from backend.core.context import AppContext
from backend.core.db import retry_transient
from backend.core.errors import Conflict, NotFound, Unprocessable
from backend.core.outbox import emit_all
from backend.core.rows import from_row, from_rows
from backend.core.topics import user_topic
from backend.facilities.service import FacilityService
from backend.facilities.slots import TOKYO, month_bounds, slot_problems
from backend.lottery import queries
from backend.lottery.draw import ALGORITHM, Entry, Slot, commitment, draw, result_digest
from schema.base import FieldError
from schema.events import Event, LotteryCancelled, LotteryResult
from schema.facilities import BookingCreate
from schema.lottery import (
    Application,
    ApplicationCreate,
    DrawResult,
    Lottery,
    LotteryCancel,
    LotteryCreate,
    LotteryOverview,
    LotteryResource,
    LotteryState,
    LotterySummary,
    MyApplication,
    PublishedApplication,
    PublishedPreference,
    SlotDemand,
    TakenSlot,
)


def _month_start(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)


class LotteryService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def _pseudonym(self, lottery_id: int, account_id: int) -> str:
        # Stable within a lottery (the cap is per person), unlinkable across lotteries and to the account.
        message = f"lottery:{lottery_id}:account:{account_id}".encode()
        return hmac.new(self.ctx.settings.secret, message, hashlib.sha256).hexdigest()[:16]

    async def create(self, caller: Caller, data: LotteryCreate) -> Lottery:
        now = self.ctx.clock.now()
        first_come_at = data.first_come_at or data.closes_at
        if not data.opens_at < data.closes_at <= first_come_at:
            raise Unprocessable(
                errors=[FieldError(field="$.closesAt", message="Must be after opensAt, not after firstComeAt")]
            )
        month = _month_start(data.month)
        resource_ids = list(dict.fromkeys(data.resource_ids))
        async with self.ctx.acquire() as conn, conn.transaction():
            resources = await conn.fetch(queries.RESOURCES_WITH_OWNER, resource_ids)
            owners = {r["organization_id"] for r in resources}
            if len(resources) != len(resource_ids) or len(owners) != 1:
                raise Unprocessable(
                    slug="unknown-reference",
                    errors=[FieldError(field="$.resourceIds", message="Resources of one facility owner, all existing")],
                )
            [owner] = owners
            if not caller.is_prefecture_admin:
                caller.require_organization(owner, roles=("admin", "staff"))
            residents = data.resident_municipality_ids or [resources[0]["municipality_id"]]
            seed = os.urandom(32)
            lottery_id = await conn.fetchval(
                queries.INSERT_LOTTERY,
                owner,
                month,
                data.opens_at,
                data.closes_at,
                first_come_at,
                data.confirm_hours,
                data.per_user_cap,
                residents,
                seed,
                commitment(seed),
                caller.account_id,
                now,
            )
            await conn.execute(queries.INSERT_LOTTERY_RESOURCES, lottery_id, resource_ids)
            return await self._published(conn, lottery_id)

    def _state(self, row: Any) -> LotteryState:
        now = self.ctx.clock.now()
        if row["drawn_at"] is not None:
            return "drawn"
        if row.get("cancelled_at") is not None:
            return "cancelled"
        return "scheduled" if now < row["opens_at"] else "open" if now < row["closes_at"] else "closed"

    async def lotteries(self, state: str | None, after: int, limit: int) -> list[LotterySummary]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.LOTTERIES, after, state, self.ctx.clock.now(), limit)
        return [from_row(LotterySummary, r, state=self._state(r), resources=_resources(r)) for r in rows]

    async def my_applications(self, caller: Caller, after: int, limit: int) -> list[MyApplication]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.MY_APPLICATIONS, caller.account_id, after, limit)
        return [
            from_row(
                MyApplication,
                r,
                id=r["application_id"],
                preferences=_published_application(r).preferences,
                state=self._state(r),
                resources=_resources(r),
            )
            for r in rows
        ]

    async def lottery(self, lottery_id: int) -> Lottery:
        async with self.ctx.acquire() as conn:
            return await self._published(conn, lottery_id)

    async def _published(self, conn: asyncpg.Connection, lottery_id: int) -> Lottery:
        row = await conn.fetchrow(queries.LOTTERY, lottery_id)
        if row is None:
            raise NotFound()
        drawn = row["drawn_at"] is not None
        state = self._state(row)
        applications = [_published_application(a) for a in await conn.fetch(queries.PUBLISHED_APPLICATIONS, lottery_id)]
        # The row carries the secret seed: it and the digest are published only after the draw (below).
        lottery = from_row(
            Lottery,
            row,
            state=state,
            resources=_resources(row),
            algorithm=ALGORITHM,
            applications=applications,
            seed=None,
            result_digest=None,
        )
        if state == "closed":
            # First-come booking is shut until the draw, so what is taken now is what the draw will
            # treat as taken: published from the close, for applicants to check before the draw.
            month_start = datetime.combine(row["month"], datetime.min.time(), TOKYO)
            taken = await conn.fetch(
                queries.LIVE_BOOKINGS_OF, list(row["resource_ids"]), month_start, month_bounds(month_start)[1]
            )
            lottery.taken = from_rows(TakenSlot, taken)
        if drawn:
            lottery.seed = bytes(row["seed"]).hex()
            lottery.taken = from_rows(TakenSlot, await conn.fetch(queries.TAKEN, lottery_id))
            lottery.results = from_rows(DrawResult, await conn.fetch(queries.RESULTS, lottery_id))
            lottery.result_digest = row["result_digest"]
        return lottery

    @retry_transient
    async def apply(
        self, caller: Caller, lottery_id: int, data: ApplicationCreate, key: CommandKey | None = None
    ) -> Application:
        """An application: checked on one read (APPLICATION_CHECKS), then written by apply_to_lottery in
        one statement, which checks again that the lottery is open and the cap not reached. `key`: the
        request's Idempotency-Key, written with the application (backend/core/command_keys.py). The
        answer gives the preferences' times in UTC, as a re-read of the application does."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            lottery = await conn.fetchrow(queries.APPLICATION_CHECKS, lottery_id, caller.account_id)
            if lottery is None:
                raise NotFound()
            if (
                not lottery["opens_at"] <= now < lottery["closes_at"]
                or lottery["drawn_at"] is not None
                or lottery["cancelled_at"] is not None
            ):
                raise _not_open()
            hours = zip(lottery["opens"], lottery["closes"], lottery["units"], strict=True)
            terms = dict(zip(lottery["resource_ids"], hours, strict=True))  # resource → (opens, closes, unit)
            month_start = datetime.combine(lottery["month"], datetime.min.time(), TOKYO)
            problems = []
            named: dict[tuple[int, datetime, datetime], int] = {}  # slot → the rank that named it first
            for index, preference in enumerate(data.preferences):
                field = f"$.preferences[{index}]"
                slot = (preference.resource_id, preference.start, preference.end)
                if slot in named:
                    problems.append(FieldError(field=field, message=f"Same slot as preference {named[slot]}"))
                    continue
                named[slot] = index + 1
                if preference.resource_id not in terms:
                    problems.append(FieldError(field=f"{field}.resourceId", message="Not part of this lottery"))
                    continue
                if month_bounds(preference.start)[0] != month_start:
                    problems.append(FieldError(field=f"{field}.start", message="Not in the lottery's month"))
                    continue
                opens_at, closes_at, unit_minutes = terms[preference.resource_id]
                for problem in slot_problems(
                    preference.start, preference.end, opens_at, closes_at, unit_minutes, now
                ):  # fmt: skip
                    problems.append(FieldError(field=f"{field}{problem.field[1:]}", message=problem.message))
            if problems:
                raise Unprocessable("Some preferences cannot be applied for.", errors=problems)
            if lottery["applied"] >= lottery["per_user_cap"]:
                raise _cap_reached(lottery["per_user_cap"])
            resident = lottery["home_municipality_id"] in lottery["resident_municipality_ids"]
            pseudonym = self._pseudonym(lottery_id, caller.account_id)
            # Outside a transaction on purpose: the one statement is its own transaction.
            with answering(key):
                row = await conn.fetchrow(
                    queries.APPLY if key is None else queries.APPLY_WRITING_KEY,
                    lottery_id,
                    caller.account_id,
                    pseudonym,
                    resident,
                    now,
                    list(range(1, len(data.preferences) + 1)),
                    [p.resource_id for p in data.preferences],
                    [p.start for p in data.preferences],
                    [p.end for p in data.preferences],
                    *(key.columns() if key is not None else ()),
                )
            assert row is not None  # the function returns one row whatever the outcome
            if row["outcome"] == "lottery-not-open":
                raise _not_open()
            if row["outcome"] == "cap-reached":
                raise _cap_reached(lottery["per_user_cap"])
            application_id = row["id"]
        if key is not None:
            key.answered = True
        return Application(
            id=application_id,
            lottery_id=lottery_id,
            pseudonym=pseudonym,
            resident=resident,
            preferences=[
                PublishedPreference(
                    rank=n, resource_id=p.resource_id, start=p.start.astimezone(UTC), end=p.end.astimezone(UTC)
                )
                for n, p in enumerate(data.preferences, 1)
            ],
        )

    async def application(self, caller: Caller, application_id: int) -> Application:
        """One application, for its applicant only (404 for anyone else)."""
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.APPLICATION_OF, application_id)
        if row is None or row["account_id"] != caller.account_id:
            raise NotFound()
        return from_row(Application, row, id=row["application_id"], preferences=_published_application(row).preferences)

    @retry_transient
    async def run_draw(self, caller: Caller, lottery_id: int) -> Lottery:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            lottery = await conn.fetchrow(queries.LOTTERY_FOR_UPDATE, lottery_id)
            if lottery is None:
                raise NotFound()
            if not caller.is_prefecture_admin:
                caller.require_organization(lottery["organization_id"], roles=("admin", "staff"))
            if lottery["drawn_at"] is not None:
                raise Conflict("This lottery has been drawn; there is no second draw.", slug="already-drawn")
            if lottery["cancelled_at"] is not None:
                raise Conflict("This lottery was cancelled.", slug="lottery-cancelled")
            if now < lottery["closes_at"]:
                raise Conflict("The application window is still open.", slug="lottery-not-closed")
            rows = await conn.fetch(queries.PUBLISHED_APPLICATIONS, lottery_id)
            entries = [_entry(row) for row in rows]
            resource_ids = [r["resource_id"] for r in await conn.fetch(queries.LOTTERY_RESOURCE_IDS, lottery_id)]
            month_start = datetime.combine(lottery["month"], datetime.min.time(), TOKYO)
            month_end = month_bounds(month_start)[1]
            taken = await conn.fetch(queries.LIVE_BOOKINGS_OF, resource_ids, month_start, month_end)
            await conn.execute(
                queries.INSERT_TAKEN,
                lottery_id,
                [t["resource_id"] for t in taken],
                [t["start"] for t in taken],
                [t["end"] for t in taken],
            )
            seed = bytes(lottery["seed"])
            wins = draw(
                seed, entries, [Slot(t["resource_id"], t["start"], t["end"]) for t in taken], lottery["per_user_cap"]
            )
            facilities = FacilityService(self.ctx)
            pay_by = now + timedelta(hours=lottery["confirm_hours"])
            events: list[tuple[str, Event]] = []
            for row, entry in zip(rows, entries, strict=True):
                rank = wins[entry.application_id]
                booking_id = None
                if rank is not None:
                    won = entry.preferences[rank - 1]
                    booking = BookingCreate(resource_id=won.resource_id, start=won.start, end=won.end)
                    booking_id = await facilities.book_lottery_win(conn, row["account_id"], booking, pay_by, now)
                await conn.execute(queries.INSERT_RESULT, lottery_id, entry.application_id, rank, booking_id)
                result = LotteryResult(
                    lottery_id=lottery_id,
                    application_id=entry.application_id,
                    won=rank is not None,
                    booking_id=booking_id,
                )
                events.append((user_topic(row["account_id"]), result))
            await conn.execute(queries.MARK_DRAWN, lottery_id, now, result_digest(wins))
            if events:
                await emit_all(conn, events, at=now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="lottery.draw",
                subject_type="lottery",
                subject_id=lottery_id,
                reason=f"{sum(r is not None for r in wins.values())} of {len(wins)} applications won",
                at=now,
            )
            return await self._published(conn, lottery_id)

    # -- back office -----------------------------------------------------------------

    async def organization_lotteries(
        self, caller: Caller, organization_id: int, after: int, limit: int
    ) -> list[LotteryOverview]:
        if not caller.is_prefecture_admin:
            caller.require_organization(organization_id, roles=("admin", "staff"))
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.ORGANIZATION_LOTTERIES, organization_id, after, limit)
        return [
            from_row(
                LotteryOverview,
                r,
                state=self._state(r),
                resources=_resources(r),
                slots=msgspec.convert(r["slots"], list[SlotDemand], strict=False),
            )
            for r in rows
        ]

    @retry_transient
    async def cancel(self, caller: Caller, lottery_id: int, data: LotteryCancel) -> Lottery:
        """Call a lottery off before its close: nothing is drawn, each applicant is told why, and the
        month opens to first-come booking as if there had been no lottery."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            lottery = await conn.fetchrow(queries.LOTTERY_FOR_UPDATE, lottery_id)
            if lottery is None:
                raise NotFound()
            if not caller.is_prefecture_admin:
                caller.require_organization(lottery["organization_id"], roles=("admin", "staff"))
            if lottery["cancelled_at"] is not None:
                raise Conflict("This lottery was already cancelled.", slug="lottery-cancelled")
            if lottery["drawn_at"] is not None or now >= lottery["closes_at"]:
                raise Conflict("A lottery can be cancelled only before its close.", slug="lottery-closed")
            await conn.execute(queries.CANCEL_LOTTERY, lottery_id, now, data.reason)
            applicants = [r["account_id"] for r in await conn.fetch(queries.APPLICANTS, lottery_id)]
            if applicants:
                cancelled = LotteryCancelled(lottery_id=lottery_id, reason=data.reason)
                await emit_all(conn, [(user_topic(a), cancelled) for a in applicants], at=now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="lottery.cancel",
                subject_type="lottery",
                subject_id=lottery_id,
                reason=data.reason,
                at=now,
            )
            return await self._published(conn, lottery_id)


def _resources(row: Any) -> list[LotteryResource]:
    return msgspec.convert(row["resources"], list[LotteryResource])


def _preferences(row: Any) -> list[dict[str, Any]]:
    return list(row["preferences"])


def _published_application(row: Any) -> PublishedApplication:
    return PublishedApplication(
        application_id=row["application_id"],
        pseudonym=row["pseudonym"],
        resident=row["resident"],
        preferences=[
            PublishedPreference(
                rank=p["rank"],
                resource_id=p["resourceId"],
                start=datetime.fromisoformat(p["start"]),
                end=datetime.fromisoformat(p["end"]),
            )
            for p in _preferences(row)
        ],
    )


def _entry(row: Any) -> Entry:
    published = _published_application(row)
    return Entry(
        application_id=published.application_id,
        pseudonym=published.pseudonym,
        resident=published.resident,
        preferences=tuple(Slot(p.resource_id, p.start, p.end) for p in published.preferences),
    )


def _not_open() -> Conflict:
    return Conflict("Applications are accepted only while the lottery is open.", slug="lottery-not-open")


def _cap_reached(cap: int) -> Conflict:
    return Conflict(f"At most {cap} applications per person.", slug="cap-reached")
