"""`musubi backup` / `musubi restore`: a backup restored into a fresh database gives back the sealed
identities, with the keys its manifest names — and refuses a keyring that cannot open them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.core.crypto import IdentityCipher, new_keyring_entry, parse_keyring
from backend.core.settings import Settings
from tests.conftest import create_scratch_database, drop_database
from tests.integration.shelters import test_intake
from tests.integration.shelters.test_intake import Network, accept, new_request

network = test_intake.network  # the fixture: shelters with beds, a caseworker and their staff
CHILD = {"name": "復元 確認子", "birthDate": "2016-04-01", "notes": "drill"}


async def musubi(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.processes.cli", *args,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.fixture
async def fresh_database(postgres_server_url: str) -> AsyncIterator[str]:
    url = await create_scratch_database(postgres_server_url, prefix="musubi_restore")
    yield url
    await drop_database(postgres_server_url, url)


async def place_child(http: httpx.AsyncClient, network: Network) -> int:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    placed = await http.post(
        f"/v1/intake-requests/{request['id']}/placement",
        json={"shelterId": network.shelters[0], "child": CHILD},
        headers=network.caseworker.headers,
    )
    assert placed.status_code == 201, placed.text
    request_id: int = request["id"]
    return request_id


async def test_backup_restored_into_a_fresh_database_reads_the_sealed_identity_back_with_the_key(
    http: httpx.AsyncClient,
    network: Network,
    database_url: str,
    fresh_database: str,
    test_settings: Settings,
    tmp_path: Path,
    db: asyncpg.Pool,
) -> None:
    request_id = await place_child(http, network)
    dump = tmp_path / "musubi.dump"
    env = {"MUSUBI_DATA_DIR": str(tmp_path / "data"), "REDIS_URL": "memory://", "MUSUBI_LOG_LEVEL": "WARNING"}
    status, output = await musubi("backup", str(dump), env={**env, "DATABASE_URL": database_url})
    assert status == 0, output
    manifest = json.loads(dump.with_name("musubi.dump.json").read_text())
    assert manifest["identity_keys"] == {"current": 1}
    assert "current (1)" in output
    assert CHILD["name"].encode() not in dump.read_bytes()

    keys = test_settings.identity_keys or ""
    status, output = await musubi(
        "restore", str(dump), "--database-url", fresh_database,
        env={**env, "DATABASE_URL": database_url, "MUSUBI_IDENTITY_KEYS": keys},
    )  # fmt: skip
    assert status == 0, output
    assert "1 sealed identities opened" in output

    restored = await asyncpg.connect(fresh_database)
    try:
        row = await restored.fetchrow(
            "SELECT identity_key_id, identity_nonce, identity_ciphertext FROM placements WHERE request_id = $1",
            request_id,
        )
        assert await restored.fetchval("SELECT count(*) FROM intake_requests") == await db.fetchval(
            "SELECT count(*) FROM intake_requests"
        )
    finally:
        await restored.close()
    identity = IdentityCipher(parse_keyring(keys)).open(
        row["identity_key_id"], row["identity_nonce"], row["identity_ciphertext"], request_id
    )
    assert identity.name == CHILD["name"]
    assert identity.birth_date.isoformat() == CHILD["birthDate"]


async def test_restore_refuses_a_keyring_without_the_backups_key_and_a_database_in_use(
    http: httpx.AsyncClient,
    network: Network,
    database_url: str,
    fresh_database: str,
    test_settings: Settings,
    tmp_path: Path,
) -> None:
    await place_child(http, network)
    dump = tmp_path / "musubi.dump"
    env = {"MUSUBI_DATA_DIR": str(tmp_path / "data"), "REDIS_URL": "memory://", "DATABASE_URL": database_url}
    status, output = await musubi("backup", str(dump), env=env)
    assert status == 0, output

    other_keys = new_keyring_entry("unrelated")
    status, output = await musubi(
        "restore", str(dump), "--database-url", fresh_database, env={**env, "MUSUBI_IDENTITY_KEYS": other_keys}
    )
    assert status == 1
    assert "lacks key id(s) current" in output
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    finally:
        await conn.close()

    keys = test_settings.identity_keys or ""
    status, output = await musubi(
        "restore", str(dump), "--database-url", database_url, env={**env, "MUSUBI_IDENTITY_KEYS": keys}
    )
    assert status == 1
    assert "not empty" in output
