"""The login throttle counts an attempt before its password is checked, and believes
X-Forwarded-For only from a configured proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import httpx
import pytest

from backend.core.clock import MovableClock
from backend.core.settings import Settings
from backend.http.app import create_app
from tests.processes import served
from tests.support import PASSWORD, Actors, assert_problem


async def buckets(db: asyncpg.Pool) -> dict[str, int]:
    return {r["bucket"]: r["failures"] for r in await db.fetch("SELECT bucket, failures FROM login_throttle")}


@pytest.fixture
async def behind_proxy(test_settings: Settings, clock: MovableClock, db: asyncpg.Pool) -> AsyncIterator[str]:
    """The same app and database, configured to believe a proxy on the loopback network."""
    app = create_app(replace(test_settings, trusted_proxies=("127.0.0.0/8",), db_pool_max=5), clock=clock)
    async with served(app) as url:
        yield url


async def test_forty_concurrent_wrong_passwords_check_at_most_ten(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    attempts = await asyncio.gather(
        *(http.post("/v1/sessions", json={"email": person.email, "password": "wrong password!"}) for _ in range(40))
    )
    statuses = sorted(r.status_code for r in attempts)
    assert statuses == [401] * 10 + [429] * 30
    for refused in (r for r in attempts if r.status_code == 429):
        assert_problem(refused, 429)
    assert (await buckets(db))["account:" + person.email] == 10
    # The right password is refused too until the window reopens.
    assert_problem(await http.post("/v1/sessions", json={"email": person.email, "password": PASSWORD}), 429)


async def test_forged_forwarded_for_from_untrusted_peer_does_not_change_the_bucket(
    http: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    for forged in ("203.0.113.9", "198.51.100.7, 203.0.113.9"):
        failed = await http.post(
            "/v1/sessions",
            json={"email": "nobody@example.jp", "password": "whatever123"},
            headers={"X-Forwarded-For": forged},
        )
        assert failed.status_code == 401
    assert {b: n for b, n in (await buckets(db)).items() if b.startswith("address:")} == {"address:127.0.0.1": 2}


async def test_forwarded_for_from_trusted_proxy_names_the_client(behind_proxy: str, db: asyncpg.Pool) -> None:
    async with httpx.AsyncClient(base_url=behind_proxy, timeout=30.0) as proxy:
        # The client claimed 198.51.100.7; the proxy appended the address it saw: that one counts.
        for chain in ("198.51.100.7, 203.0.113.9", "203.0.113.9"):
            failed = await proxy.post(
                "/v1/sessions",
                json={"email": "nobody@example.jp", "password": "whatever123"},
                headers={"X-Forwarded-For": chain},
            )
            assert failed.status_code == 401
    assert {b: n for b, n in (await buckets(db)).items() if b.startswith("address:")} == {"address:203.0.113.9": 2}
