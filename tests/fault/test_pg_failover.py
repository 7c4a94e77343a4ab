"""Lose the PostgreSQL primary mid-rush: a synchronous standby is promoted and every booking the
API acknowledged is on it. This is the client side of docs/operations.md "Primary failover"; the
promotion itself is what CloudNativePG automates in production."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
import httpx
import pytest

from backend.core.crypto import new_keyring_entry
from backend.core.db import migrate
from backend.core.settings import Settings
from backend.processes.embedded import ensure_database
from tests.integration.facilities.conftest import make_venue
from tests.pg_pair import ReplicatedPair
from tests.processes import MusubiProcess, free_port, musubi_env
from tests.support import PROBLEM_JSON, Actors


@pytest.fixture
async def pair() -> AsyncIterator[ReplicatedPair]:
    pair = ReplicatedPair()
    try:
        await pair.start()
        yield pair
    finally:
        pair.cleanup()


@dataclass
class Attempt:
    key: str
    body: dict[str, object]
    headers: dict[str, str]
    email: str
    sent: bool = False
    status: int | None = None  # None: the connection to the API broke
    answer: httpx.Response | None = None


def api_process(database_url: str, settings: Settings) -> MusubiProcess:
    port = free_port()
    env = {
        **musubi_env(database_url, "memory://", settings),
        "MUSUBI_PORT": str(port),
        # A dead primary must cost a request seconds at most, not the default wait.
        "MUSUBI_DB_ACQUIRE_TIMEOUT_MS": "2000",
        # A request cut off by the kill leaves its Idempotency-Key leased on the standby too; a short
        # lease lets the retries below take it over within the test's time.
        "MUSUBI_IDEMPOTENCY_LEASE_SECONDS": "3",
        "MUSUBI_IDEMPOTENCY_WAIT_MS": "1000",
    }
    return MusubiProcess("serve", env, port=port)


async def test_primary_killed_mid_rush_every_acknowledged_booking_is_on_the_promoted_standby(
    pair: ReplicatedPair,
) -> None:
    settings = replace(
        Settings(),
        secret_key="test-secret-" + secrets.token_hex(16),
        identity_keys=new_keyring_entry("current"),
    )
    primary_url = await ensure_database(pair.primary.url, "musubi")
    await migrate(primary_url)
    api = api_process(primary_url, settings)
    await api.start()
    successor: MusubiProcess | None = None
    attempts: list[Attempt] = []
    try:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}", timeout=20, limits=limits) as client:
            pool = await asyncpg.create_pool(primary_url, min_size=1, max_size=3)
            try:
                actors = Actors(client, pool)
                venue = await make_venue(client, actors, feePerUnit=0, nonResidentFeePerUnit=None)
                crowd = await actors.many_residents(240)
            finally:
                pool.terminate()  # its connections die with the primary anyway
            # One person per slot, 12 hours a day over 20 days: no two wishes compete, so every
            # booking that is not answered 201 lost only to the outage.
            attempts = [
                Attempt(str(uuid.uuid4()), venue.slot(3 + n // 12, 9 + n % 12), person.headers, person.email)
                for n, person in enumerate(crowd)
            ]
            queue = iter(attempts)
            acknowledged = 0
            enough_acknowledged = asyncio.Event()
            outage_seen = asyncio.Event()
            killed = asyncio.Event()
            outage_answers = 0

            async def book() -> None:
                nonlocal acknowledged, outage_answers
                for attempt in queue:
                    if outage_seen.is_set():
                        return
                    attempt.sent = True
                    try:
                        attempt.answer = await client.post(
                            "/v1/bookings",
                            json=attempt.body,
                            headers={**attempt.headers, "Idempotency-Key": attempt.key},
                        )
                        attempt.status = attempt.answer.status_code
                    except httpx.HTTPError:
                        attempt.status = None
                    if attempt.status == 201:
                        acknowledged += 1
                        if acknowledged >= 40:
                            enough_acknowledged.set()
                    elif killed.is_set():
                        outage_answers += 1
                        # A handful of answers from the outage, then stop: they are what the test checks.
                        if outage_answers >= 15:
                            outage_seen.set()

            async def kill_primary() -> None:
                await enough_acknowledged.wait()
                await asyncio.to_thread(pair.primary.kill)
                killed.set()

            await asyncio.wait_for(asyncio.gather(*(book() for _ in range(8)), kill_primary()), timeout=120)

        # What the API said while its database was gone: 503 problem+json with Retry-After, never a 500.
        sent = [a for a in attempts if a.sent]
        statuses = {a.status for a in sent}
        unhandled = [line for line in api.output().splitlines() if "Traceback" in line or '"level": "error"' in line]
        assert statuses <= {201, 503}, (statuses, unhandled[:10])
        failed = [a for a in sent if a.status == 503]
        assert failed, "the kill came too late to be felt"
        for attempt in failed:
            assert attempt.answer is not None
            assert attempt.answer.headers["content-type"].startswith(PROBLEM_JSON)
            assert attempt.answer.json()["status"] == 503
            assert attempt.answer.headers["Retry-After"] == "1"
        answered = {a.key: a for a in sent if a.status == 201}
        assert len(answered) >= 40

        await pair.promote_standby()
        # In production the `-rw` service (or a VIP) moves to the promoted server and the same API
        # processes reconnect through it; here a new API is pointed at the promoted server directly.
        promoted_url = primary_url.replace(f":{pair.primary.port}/", f":{pair.standby.port}/")
        successor = api_process(promoted_url, settings)
        await successor.start()

        promoted = await asyncpg.connect(promoted_url)
        try:
            for key, attempt in answered.items():
                assert attempt.answer is not None
                booking = attempt.answer.json()
                row = await promoted.fetchrow("SELECT status, resource_id FROM bookings WHERE id = $1", booking["id"])
                assert row is not None, f"acknowledged booking {booking['id']} ({key}) was lost in the failover"
                assert row["status"] == "confirmed"

            # Clients retry with their Idempotency-Key: an acknowledged booking answers the same again,
            # anything unanswered is booked now.
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{successor.port}", timeout=20) as client:
                for attempt in [a for a in attempts if a.status != 201][:30] + list(answered.values())[:10]:
                    retry = await client.post(
                        "/v1/bookings", json=attempt.body, headers={**attempt.headers, "Idempotency-Key": attempt.key}
                    )
                    while retry.status_code == 409 and retry.json()["type"].endswith("request-in-progress"):
                        assert time.monotonic() - started < 30, retry.text
                        await asyncio.sleep(0.25)
                        retry = await client.post(
                            "/v1/bookings",
                            json=attempt.body,
                            headers={**attempt.headers, "Idempotency-Key": attempt.key},
                        )
                    if attempt.status == 201:
                        assert attempt.answer is not None
                        assert retry.status_code == 201, retry.text
                        assert retry.json() == attempt.answer.json()
                    elif retry.status_code != 201:
                        # A booking writes its key with it, so one committed before the kill replays
                        # 201; a 409 here could only be a refusal kept for the key, and the slot must
                        # then be this same person's.
                        assert retry.status_code == 409, retry.text
                        owner = await promoted.fetchval(
                            "SELECT a.email FROM bookings b JOIN accounts a ON a.id = b.account_id"
                            " WHERE b.resource_id = $1 AND b.during && tstzrange($2::timestamptz, $3::timestamptz)"
                            " AND b.status = 'confirmed'",
                            venue.resource_id,
                            datetime.fromisoformat(str(attempt.body["start"])),
                            datetime.fromisoformat(str(attempt.body["end"])),
                        )
                        assert owner == attempt.email, (retry.text, owner)
            overlaps = await promoted.fetchval(
                """
                SELECT count(*) FROM bookings a JOIN bookings b ON a.resource_id = b.resource_id AND a.id < b.id
                   AND a.during && b.during
                 WHERE a.status IN ('held', 'provisional', 'confirmed')
                   AND b.status IN ('held', 'provisional', 'confirmed')
                """
            )
            assert overlaps == 0
        finally:
            await promoted.close()
    finally:
        api.terminate()
        if successor is not None:
            successor.terminate()
