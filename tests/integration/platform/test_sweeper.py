from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import timedelta

import asyncpg
import httpx
import pytest

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.processes.jobs import SWEEP_STEPS, Sweeper
from tests.integration.ems.conftest import case_body
from tests.support import Actors


async def test_a_failing_step_neither_skips_the_ems_realert_nor_ends_the_loop(
    http: httpx.AsyncClient,
    actors: Actors,
    db: asyncpg.Pool,
    clock: MovableClock,
    ctx: AppContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospital = await actors.organization("hospital")
    case = await http.post("/v1/ems/cases", json=case_body(), headers=paramedic.headers)
    assert case.status_code == 201, case.text
    sent = await http.post(
        f"/v1/ems/cases/{case.json()['id']}/requests", json={"hospitalIds": [hospital]}, headers=paramedic.headers
    )
    assert sent.status_code == 201, sent.text
    clock.advance(timedelta(seconds=ctx.settings.ems_realert_seconds + 1))

    rounds = 0
    third_round = asyncio.Event()

    async def broken_step(ctx: AppContext) -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            third_round.set()
        raise RuntimeError("a step that breaks every round")

    # The broken step goes first: under one shared `try` it would skip every step after it.
    sweeper = Sweeper(ctx, steps=(broken_step, *SWEEP_STEPS))
    loop = asyncio.create_task(sweeper.run(interval_s=0.01))
    try:
        await asyncio.wait_for(third_round.wait(), timeout=20)
        assert not loop.done()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop

    realerts = await db.fetch("SELECT topic FROM outbox WHERE type = 'ems.request.realerted'")
    assert [r["topic"] for r in realerts] == [f"hospital:{hospital}"]
    assert sweeper.failures == Counter({"broken_step": sweeper.failures["broken_step"]})
    failure_logs = [r for r in caplog.records if r.name == "musubi.jobs" and r.levelno == logging.ERROR]
    assert failure_logs
    assert all(r.exc_info for r in failure_logs)
    assert "broken_step" in failure_logs[0].getMessage()
