"""The offline send queue against the real API behind a link the test cuts: an action queued while
the API cannot be reached survives a reload of the page from the queue's store, keeps its
Idempotency-Key, and goes out exactly once on its own when the API is back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from mobile.api import MusubiApi
from mobile.send_queue import FileStore, SendQueue
from tests.e2e.browser import CuttableLink
from tests.support import Actors

CASE = {"estimatedAge": 70, "sex": "male", "chiefComplaint": "胸痛", "jcs": "I-1",
        "vitals": {"sbp": 90, "hr": 110, "spo2": 93}, "location": {"lat": 36.37, "lon": 140.47}}  # fmt: skip


async def test_an_action_queued_while_the_api_is_down_survives_a_reload_and_goes_once_on_its_own(
    base_url: str, actors: Actors, db: asyncpg.Pool, tmp_path: Path
) -> None:
    paramedic = await actors.member("fire_department", "paramedic")
    port = urlsplit(base_url).port
    assert port is not None
    link = CuttableLink(port)
    await link.start()
    api = MusubiApi(f"http://127.0.0.1:{link.port}", timeout_s=5)
    api.token = paramedic.token
    store = FileStore(tmp_path / "send-queue.json")
    try:
        link.cut()
        page = SendQueue(api, store)
        action = page.add("open_case", "POST", "/v1/ems/cases", CASE)
        assert not await page.flush()
        assert action.status == "queued"

        # The page is reloaded while the API is still down: the action comes back from the store.
        await page.close()
        drained = asyncio.Event()

        async def on_drained() -> None:
            drained.set()

        reloaded = await SendQueue.open(api, store, on_drained=on_drained)
        [waiting] = reloaded.items
        assert (waiting.key, waiting.status, waiting.body) == (action.key, "queued", CASE)
        assert await db.fetchval("SELECT count(*) FROM ems_cases") == 0

        # The API comes back; nobody taps anything: the queue's own retries send it.
        link.restore()
        await asyncio.wait_for(drained.wait(), timeout=60)
        assert waiting.status == "sent", waiting.error
        assert await db.fetchval("SELECT count(*) FROM ems_cases") == 1
        assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", action.key) == 1
        assert waiting.result["id"] == await db.fetchval("SELECT id FROM ems_cases")

        # Sent is done: another flush sends nothing, and the store holds nothing for the next page.
        assert await reloaded.flush()
        assert await db.fetchval("SELECT count(*) FROM ems_cases") == 1
        assert (await SendQueue.open(api, store)).items == []
        await reloaded.close()
    finally:
        await api.close()
        await link.stop()


async def test_a_nudge_sends_at_once_instead_of_at_the_next_retry(
    base_url: str, actors: Actors, db: asyncpg.Pool
) -> None:
    """When the live stream is back the shell nudges the queue: no waiting out a long backoff."""
    paramedic = await actors.member("fire_department", "paramedic")
    port = urlsplit(base_url).port
    assert port is not None
    link = CuttableLink(port)
    await link.start()
    api = MusubiApi(f"http://127.0.0.1:{link.port}", timeout_s=5)
    api.token = paramedic.token
    queue = SendQueue(api)
    try:
        link.cut()
        action = queue.add("open_case", "POST", "/v1/ems/cases", CASE)
        assert not await queue.flush()
        for _ in range(4):  # let the backoff grow well past what the test waits below
            queue.nudge()
            await asyncio.sleep(0.2)
        assert action.status == "queued"
        link.restore()
        queue.nudge()
        for _ in range(50):
            if action.status == "sent":
                break
            await asyncio.sleep(0.1)
        assert action.status == "sent", action.error
        assert await db.fetchval("SELECT count(*) FROM ems_cases") == 1
    finally:
        await queue.close()
        await api.close()
        await link.stop()
