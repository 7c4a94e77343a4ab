"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Checks: no 5xx for any generated request, and every response matches its documented schema; with
ALL_CHECKS also status codes, content types and headers as documented, and invalid data refused.
The admin caller holds every role in an organisation of every kind, so requests get past access
checks into validation and the services; the parent caller holds none. Logging out, revoking a session
and deleting the account are excluded (they would end the run's session).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from tests.sessions import mint_session

KINDS = ("municipality", "facility_operator", "nursery", "guidance_center", "shelter", "fire_department", "hospital",
         "prefecture")  # fmt: skip
ROLES = ("admin", "staff", "caseworker", "paramedic", "er_staff")


async def all_roles_token(database_url: str) -> str:
    return await _token(database_url, with_roles=True)


async def parent_token(database_url: str) -> str:
    """A resident with a verified address and no membership: what most callers are."""
    return await _token(database_url, with_roles=False)


async def _token(database_url: str, *, with_roles: bool) -> str:
    now = datetime.now(UTC)
    conn = await asyncpg.connect(database_url)
    try:
        # Verified, so VERIFIED operations are reached instead of answering 403 every time.
        account = await conn.fetchval(
            "INSERT INTO accounts (email, password_hash, display_name, created_at, email_verified_at)"
            " VALUES ('fuzz-' || gen_random_uuid() || '@example.jp', '!', 'Fuzz', $1, $1) RETURNING id",
            now,
        )
        for kind in KINDS if with_roles else ():
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
        token = await mint_session(conn, account, lasting=timedelta(hours=6))
    finally:
        await conn.close()
    return token


# Every check schemathesis has except two whose premise does not hold here:
# - positive_data_acceptance expects any schema-valid request to succeed, but some refusals depend on
#   state no schema can express (a cursor this server issued, a password not in the weak list, a
#   municipality that exists); those answers are documented 4xx problems all the same.
# - allow_header_conformance compares Litestar's automatic OPTIONS `Allow` header, which lists the
#   methods of one route object, with the path item, which merges routes registered by different routers.
ALL_CHECKS = ("--checks", "all", "--exclude-checks", "positive_data_acceptance,allow_header_conformance")
FEW_CHECKS = ("--checks", "not_a_server_error,response_schema_conformance")


def run_schemathesis(
    base_url: str, token: str, max_examples: int, seed: int = 1, checks: tuple[str, ...] = FEW_CHECKS
) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [
            str(executable), "run", f"{base_url}/schema/openapi.json",
            *checks,
            "--max-examples", str(max_examples),
            "--header", f"Authorization: Bearer {token}",
            "--exclude-operation-id", "deleteCurrentSession",
            "--exclude-operation-id", "revokeMySession",
            "--exclude-operation-id", "deleteMe",
            "--seed", str(seed),
            "--request-timeout", "15",
            "--continue-on-failure",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
