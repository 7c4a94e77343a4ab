"""Periodic housekeeping: release what expired, re-alert unanswered hospital requests, purge
patient data past retention, forget old Idempotency-Keys.

Safe to run in several processes at once: each step is an idempotent UPDATE/DELETE on rows
it locks, so two sweepers only share the work.

Each step runs in its own guard. When they shared one `try`, a failing booking release
skipped the EMS re-alerts behind it, and an exception outside the few caught types ended the
loop for good without a word; a hospital then never heard about an unanswered ambulance.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from backend.childcare.service import ChildcareService
from backend.context import AppContext
from backend.ems.service import EmsService
from backend.facilities.service import FacilityService
from backend.idempotency import forget_keys_older_than
from backend.metrics import SWEEP_FAILURES

log = logging.getLogger("musubi.jobs")

SweepStep = Callable[[AppContext], Awaitable[None]]


async def release_expired_bookings(ctx: AppContext) -> None:
    released = await FacilityService(ctx).release_expired()
    if released:
        log.info("released %d expired bookings/holds", released)


async def remind_payment_due_tomorrow(ctx: AppContext) -> None:
    reminded = await FacilityService(ctx).remind_payment_due()
    if reminded:
        log.info("reminded %d bookers of tomorrow's payment deadline", reminded)


async def pass_on_expired_childcare_holds(ctx: AppContext) -> None:
    if await ChildcareService(ctx).expire_holds():
        log.info("passed on expired childcare holds")


async def send_childcare_reminders(ctx: AppContext) -> None:
    if await ChildcareService(ctx).send_reminders():
        log.info("sent childcare reminders for tomorrow")


async def realert_unanswered_hospital_requests(ctx: AppContext) -> None:
    realerted = await EmsService(ctx).realert_unanswered()
    if realerted:
        log.info("re-alerted %d unanswered hospital requests", realerted)


async def purge_expired_patient_data(ctx: AppContext) -> None:
    purged = await EmsService(ctx).purge_expired_phi()
    if purged:
        log.info("purged patient data of %d EMS cases past retention", purged)


async def forget_old_idempotency_keys(ctx: AppContext) -> None:
    cutoff = ctx.clock.now() - timedelta(hours=ctx.settings.idempotency_ttl_hours)
    async with ctx.acquire() as conn:
        await forget_keys_older_than(conn, cutoff)


SWEEP_STEPS: tuple[SweepStep, ...] = (
    release_expired_bookings,
    remind_payment_due_tomorrow,
    pass_on_expired_childcare_holds,
    send_childcare_reminders,
    realert_unanswered_hospital_requests,
    purge_expired_patient_data,
    forget_old_idempotency_keys,
)


def step_name(step: SweepStep) -> str:
    return getattr(step, "__name__", repr(step))


class Sweeper:
    """Runs the sweep steps in turn, forever; a step that raises is logged and counted, and the
    others (and the next round) run regardless."""

    def __init__(self, ctx: AppContext, steps: Sequence[SweepStep] = SWEEP_STEPS) -> None:
        self.ctx = ctx
        self.steps = tuple(steps)
        # Failures per step name since this sweeper started; read by tests until metrics exist.
        self.failures: Counter[str] = Counter()

    async def sweep_once(self) -> None:
        for step in self.steps:
            try:
                await step(self.ctx)
            except Exception:
                # Any failure, not only database ones: one step must never stop the others.
                # CancelledError is not an Exception, so cancelling the sweeper still stops it.
                self.failures[step_name(step)] += 1
                SWEEP_FAILURES.labels(step_name(step)).inc()
                log.exception("sweep step %s failed; the other steps run on", step_name(step))

    async def run(self, interval_s: float = 5.0) -> None:
        while True:
            await self.sweep_once()
            await asyncio.sleep(interval_s)


async def sweep_once(ctx: AppContext) -> None:
    await Sweeper(ctx).sweep_once()


async def sweep_forever(ctx: AppContext, interval_s: float = 5.0) -> None:
    await Sweeper(ctx).run(interval_s)
