"""Helpers that make people and organisations the way the system does: accounts over HTTP,
organisations and memberships in the database (as a prefecture admin would)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import asyncpg
import httpx

from schema.ems import Department
from tests.sessions import mint_session

PASSWORD = "correct horse battery staple"
PROBLEM_JSON = "application/problem+json"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Actor:
    account_id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Actors:
    def __init__(self, http: httpx.AsyncClient, db: asyncpg.Pool) -> None:
        self.http = http
        self.db = db

    async def organization(self, kind: str, name: str | None = None, municipality_id: int = 1) -> int:
        """A new organisation; a hospital runs every department of the shared list (its admin may retire some)."""
        org_id: int = await self.db.fetchval(
            "INSERT INTO organizations (kind, name, municipality_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            kind,
            name or f"{kind} {next(_counter)}",
            municipality_id,
            datetime.now(UTC),
        )
        if kind == "hospital":
            await self.db.execute(
                "INSERT INTO hospital_departments (hospital_id, department, created_at)"
                " SELECT $1, unnest($2::text[]), $3",
                org_id,
                list(get_args(Department)),
                datetime.now(UTC),
            )
        return org_id

    async def resident(self, email: str | None = None) -> Actor:
        email = email or f"person{next(_counter)}@example.jp"
        created = await self.http.post(
            "/v1/accounts", json={"email": email, "password": PASSWORD, "displayName": "Test Person"}
        )
        assert created.status_code == 201, created.text
        await self.verify(created.json()["id"])
        return await self.login(email, created.json()["id"])

    async def verify(self, account_id: int) -> None:
        """Follow the newest verification link mailed to the account, as its owner would."""
        token = await self.mailed_token(account_id, "verify_email")
        verified = await self.http.post("/v1/accounts/verify", json={"token": token})
        assert verified.status_code == 200, verified.text

    async def mailed_token(self, account_id: int, kind: str) -> str:
        """The token in the newest mail of `kind` to the account, read from the e-mail outbox (no worker runs)."""
        body = await self.db.fetchval(
            "SELECT body_text FROM email_outbox WHERE account_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1",
            account_id,
            kind,
        )
        assert body, f"no {kind} mail queued for account {account_id}"
        return token_in(body)

    async def invite(self, admin: Actor, organization_id: int, invitee: Actor, role: str) -> str:
        """The admin invites the person's address; the token of the mailed link (read from the outbox)."""
        sent = await self.http.post(
            f"/v1/organizations/{organization_id}/invitations",
            json={"email": invitee.email, "role": role},
            headers=admin.headers,
        )
        assert sent.status_code == 201, sent.text
        return await self.invitation_token(invitee.email)

    async def invitation_token(self, email: str) -> str:
        """The token of the newest invitation mailed to `email`, read from the outbox (no worker runs)."""
        body = await self.db.fetchval(
            "SELECT body_text FROM email_outbox WHERE lower(to_address) = lower($1) AND kind = 'invitation'"
            " ORDER BY id DESC LIMIT 1",
            email,
        )
        assert body, f"no invitation mailed to {email}"
        return token_in(body)

    async def login(self, email: str, account_id: int) -> Actor:
        session = await self.http.post("/v1/sessions", json={"email": email, "password": PASSWORD})
        assert session.status_code == 201, session.text
        return Actor(account_id=account_id, email=email, token=session.json()["token"])

    async def lives_in(self, actor: Actor, municipality_id: int) -> None:
        """A residency already verified at the counter (the API path is tested in test_residency.py)."""
        now = datetime.now(UTC)
        await self.db.execute(
            "INSERT INTO residencies (account_id, municipality_id, status, declared_at, decided_at)"
            " VALUES ($1, $2, 'verified', $3, $3)",
            actor.account_id,
            municipality_id,
            now,
        )

    async def many_residents(self, count: int) -> list[Actor]:
        """Signed-in residents made straight in the database (sessions as login writes them), for races."""
        now = datetime.now(UTC)
        people = []
        async with self.db.acquire() as conn, conn.transaction():
            for _ in range(count):
                email = f"crowd{next(_counter)}@example.jp"
                account_id = await conn.fetchval(
                    "INSERT INTO accounts (email, password_hash, display_name, created_at, email_verified_at)"
                    " VALUES ($1, 'not-a-login', 'Crowd', $2, $2) RETURNING id",
                    email,
                    now,
                )
                token = await mint_session(conn, account_id, lasting=timedelta(hours=1))
                people.append(Actor(account_id=account_id, email=email, token=token))
        return people

    async def grant(self, actor: Actor, organization_id: int, role: str) -> None:
        await self.db.execute(
            "INSERT INTO memberships (organization_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)",
            organization_id,
            actor.account_id,
            role,
            datetime.now(UTC),
        )

    async def member(self, kind: str, role: str, organization_id: int | None = None) -> Actor:
        """An account holding `role` in an organisation of `kind` (a new one unless given)."""
        actor = await self.resident()
        await self.grant(actor, organization_id or await self.organization(kind), role)
        return actor

    async def prefecture_admin(self) -> Actor:
        return await self.member("prefecture", "admin")


async def table_counts(db: asyncpg.Pool) -> dict[str, int]:
    """Row counts of every application table, to prove a request changed nothing."""
    async with db.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        counts = {}
        for row in tables:
            counts[row["tablename"]] = await conn.fetchval(f'SELECT count(*) FROM "{row["tablename"]}"')
    return counts


def token_in(body: str) -> str:
    """The token of the one link in a mail body (…?token=… or …/invitations/…)."""
    found = re.findall(r"https?://\S+[?&]token=([A-Za-z0-9_-]+)", body)
    assert len(found) == 1, body
    return found[0]


def assert_problem(response: httpx.Response, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    if type_suffix is not None:
        assert problem["type"].endswith("/" + type_suffix), problem
    return problem


async def assert_key_written_by_command(db: asyncpg.Pool, key: str, *, status: int, ref: str) -> None:
    """The Idempotency-Key row a command wrote beside its change (backend/core/command_keys.py): its
    status and the path a replay re-reads; no answer body kept, no lease."""
    row = await db.fetchrow(
        "SELECT response_status, response_ref, response_body, locked_until FROM idempotency_keys WHERE key = $1", key
    )
    assert row is not None
    assert dict(row) == {"response_status": status, "response_ref": ref, "response_body": None, "locked_until": None}


def statements(response: httpx.Response) -> int:
    """The statements the API sent PostgreSQL for a request (the `counting` API's header; BEGIN and
    COMMIT count): its round trips."""
    return int(response.headers["musubi-db-statements"])
