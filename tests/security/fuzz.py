"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Checks: no 5xx for any generated request, and every response matches its documented schema.
The caller holds every role in an organisation of every kind, so requests get past access
checks into validation and the services. Logging out is excluded (it would end the run's session).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from backend.auth import hash_token, new_token

KINDS = ("municipality", "facility_operator", "nursery", "guidance_center", "shelter", "fire_department", "hospital",
         "prefecture")  # fmt: skip
ROLES = ("admin", "staff", "caseworker", "paramedic", "er_staff")


async def all_roles_token(database_url: str) -> str:
    now = datetime.now(UTC)
    conn = await asyncpg.connect(database_url)
    try:
        account = await conn.fetchval(
            # Verified, so the operations that need a verified address are fuzzed too.
            "INSERT INTO accounts (email, password_hash, display_name, created_at, email_verified_at)"
            " VALUES ('fuzz-' || gen_random_uuid() || '@example.jp', '!', 'Fuzz', $1, $1) RETURNING id",
            now,
        )
        for kind in KINDS:
            org = await conn.fetchval(
                "INSERT INTO organizations (kind, name, municipality_id, created_at)"
                " VALUES ($1, $1, 1, $2) RETURNING id",
                kind,
                now,
            )
            for role in ROLES:
                await conn.execute(
                    "INSERT INTO memberships (organization_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)",
                    org,
                    account,
                    role,
                    now,
                )
        token = new_token()
        await conn.execute(
            "INSERT INTO sessions (account_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            account,
            hash_token(token),
            now,
            now + timedelta(hours=6),
        )
    finally:
        await conn.close()
    return token


def run_schemathesis(base_url: str, token: str, max_examples: int, seed: int = 1) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [
            str(executable), "run", f"{base_url}/schema/openapi.json",
            "--checks", "not_a_server_error,response_schema_conformance",
            "--max-examples", str(max_examples),
            "--header", f"Authorization: Bearer {token}",
            "--exclude-operation-id", "deleteCurrentSession",
            "--seed", str(seed),
            "--request-timeout", "15",
            "--continue-on-failure",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
