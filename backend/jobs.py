"""Periodic housekeeping: release what expired, re-alert unanswered hospital requests, purge
patient data past retention, forget old Idempotency-Keys.

Safe to run in several processes at once: each step is an idempotent UPDATE/DELETE on rows
it locks, so two sweepers only share the work.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from backend.childcare.service import ChildcareService
from backend.context import AppContext
from backend.ems.service import EmsService
from backend.facilities.service import FacilityService

log = logging.getLogger("musubi.jobs")

_PURGE_IDEMPOTENCY = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000))
"""


async def sweep_once(ctx: AppContext) -> None:
    released = await FacilityService(ctx).release_expired()
    if released:
        log.info("released %d expired bookings/holds", released)
    childcare = ChildcareService(ctx)
    if await childcare.expire_holds():
        log.info("passed on expired childcare holds")
    if await childcare.send_reminders():
        log.info("sent childcare reminders for tomorrow")
    ems = EmsService(ctx)
    realerted = await ems.realert_unanswered()
    if realerted:
        log.info("re-alerted %d unanswered hospital requests", realerted)
    purged = await ems.purge_expired_phi()
    if purged:
        log.info("purged patient data of %d EMS cases past retention", purged)
    cutoff = ctx.clock.now() - timedelta(hours=ctx.settings.idempotency_ttl_hours)
    async with ctx.acquire() as conn:
        await conn.execute(_PURGE_IDEMPOTENCY, cutoff)


async def sweep_forever(ctx: AppContext, interval_s: float = 5.0) -> None:
    while True:
        try:
            await sweep_once(ctx)
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("sweep failed (%r); trying again in %.0fs", exc, interval_s)
        await asyncio.sleep(interval_s)
