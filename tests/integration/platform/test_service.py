from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
import httpx

from backend.core.settings import Settings
from backend.seeds.seed import DEMO_PASSWORD, seed_demo
from tests.conftest import create_scratch_database, drop_database


async def test_health_and_ready(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).json() == {"status": "ok"}
    ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] is True


async def test_openapi_document_is_served(http: httpx.AsyncClient) -> None:
    document = (await http.get("/schema/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/v1/sessions" in document["paths"]
    assert "requestBody" in document["paths"]["/v1/accounts"]["post"]


async def test_two_processes_migrating_at_once_leave_one_set_of_tables(postgres_server_url: str) -> None:
    url = await create_scratch_database(postgres_server_url, "musubi_migrate")
    try:
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "memory://"}
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "backend.processes.cli",
                "migrate",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [await p.communicate() for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        printed = [out.decode() for out, _ in outputs]
        # One process applied everything; the other waited on the lock and found nothing to do.
        assert sum("up to date" in text for text in printed) == 1, printed
        conn = await asyncpg.connect(url)
        try:
            versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
            assert versions == sorted(set(versions))
            assert len(versions) >= 2
            assert await conn.fetchval("SELECT count(*) FROM municipalities") == 44
        finally:
            await conn.close()
    finally:
        await drop_database(postgres_server_url, url)


async def test_demo_seed_is_idempotent_and_its_accounts_log_in(
    http: httpx.AsyncClient, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    first = await seed_demo(database_url, test_settings)
    again = await seed_demo(database_url, test_settings)
    assert first == again
    assert len(first) == 8
    assert await db.fetchval("SELECT count(*) FROM accounts") == 8
    assert await db.fetchval("SELECT count(*) FROM facilities") == 3
    for email, _, _ in first:
        session = await http.post("/v1/sessions", json={"email": email, "password": DEMO_PASSWORD})
        assert session.status_code == 201, email
    paramedic = await http.post("/v1/sessions", json={"email": "paramedic@demo.musubi.jp", "password": DEMO_PASSWORD})
    me = (await http.get("/v1/me", headers={"Authorization": f"Bearer {paramedic.json()['token']}"})).json()
    assert [m["role"] for m in me["memberships"]] == ["paramedic"]


async def test_demo_child_is_applied_to_and_approved_at_the_demo_nursery(
    http: httpx.AsyncClient, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    await seed_demo(database_url, test_settings)
    await seed_demo(database_url, test_settings)
    tokens = {}
    for who in ("parent", "nursery"):
        session = await http.post("/v1/sessions", json={"email": f"{who}@demo.musubi.jp", "password": DEMO_PASSWORD})
        tokens[who] = {"Authorization": f"Bearer {session.json()['token']}"}
    [child] = (await http.get("/v1/children", headers=tokens["parent"])).json()
    nursery_id = child["approvedNurseryIds"][0]
    applications = (await http.get(f"/v1/children/{child['id']}/applications", headers=tokens["parent"])).json()
    assert [(a["nurseryId"], a["status"]) for a in applications] == [(nursery_id, "approved")]
    assert [c["id"] for c in (await http.get("/v1/children", headers=tokens["nursery"])).json()] == [child["id"]]
    assert await db.fetchval("SELECT count(*) FROM child_approvals") == 1


async def test_demo_seed_gives_the_back_office_screens_something_to_show(
    http: httpx.AsyncClient, database_url: str, test_settings: Settings
) -> None:
    await seed_demo(database_url, test_settings)
    await seed_demo(database_url, test_settings)
    tokens = {}
    for who in ("shelter", "caseworker", "paramedic", "er"):
        session = await http.post("/v1/sessions", json={"email": f"{who}@demo.musubi.jp", "password": DEMO_PASSWORD})
        tokens[who] = {"Authorization": f"Bearer {session.json()['token']}"}
    org = {}
    for who, headers in tokens.items():
        org[who] = (await http.get("/v1/me", headers=headers)).json()["memberships"][0]["organizationId"]
    placements = (await http.get(f"/v1/shelters/{org['shelter']}/placements", headers=tokens["shelter"])).json()
    assert len(placements) == 2
    assert all(p["child"]["name"] for p in placements)
    requests = await http.get(f"/v1/guidance-centers/{org['caseworker']}/intake-requests", headers=tokens["caseworker"])
    assert sorted(r["status"] for r in requests.json()) == ["open", "placed", "placed"]
    cases = (await http.get(f"/v1/fire-departments/{org['paramedic']}/cases", headers=tokens["paramedic"])).json()
    assert sorted(c["state"] for c in cases) == ["closed", "closed", "open"]
    departments = (await http.get(f"/v1/hospitals/{org['er']}/departments", headers=tokens["er"])).json()
    assert "emergency" in [d["department"] for d in departments]
