"""Rules and transactions of accounts, sessions and organisations."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.accounts import queries
from backend.accounts.access import (
    Caller,
    caller_from_row,
    hash_token,
    may_join,
    membership_grants,
    needs_membership,
    new_token,
    private_topics,
)
from backend.audit import record_audit
from backend.context import AppContext
from backend.errors import Forbidden, NotFound, TooManyRequests, Unauthorized, Unprocessable
from backend.outbox import emit
from realtime.tickets import TicketClaims, new_ticket_id, sign_ticket
from schema.accounts import (
    Account,
    AccountCreate,
    Me,
    Member,
    MemberCreate,
    Membership,
    Organization,
    OrganizationCreate,
    Session,
    SessionCreate,
)
from schema.base import FieldError
from schema.events import LiveAccessRevoked, MembershipGranted
from schema.realtime import CONTROL_TOPIC, Ticket, TicketCreate


@functools.cache
def _decoy_hash(hasher: PasswordHasher) -> str:
    # Verified against when the e-mail is unknown, so both failures cost the same time.
    return hasher.hash(secrets.token_urlsafe(16))


def _verify(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """Runs in a worker thread; with no account, burns the same time on a decoy and fails."""
    try:
        return hasher.verify(password_hash or _decoy_hash(hasher), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class _Throttled(Exception):
    """Rolls back a reservation that got only one of its two buckets."""


class AccountService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def authenticate(self, token: str) -> Caller | None:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.CALLER_BY_TOKEN, hash_token(token), self.ctx.clock.now())
        return caller_from_row(row) if row else None

    async def register(self, data: AccountCreate) -> Account:
        password_hash = await asyncio.to_thread(self.ctx.password_hasher.hash, data.password)
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(
                queries.INSERT_ACCOUNT,
                data.email,
                password_hash,
                data.display_name,
                data.locale,
                self.ctx.clock.now(),
            )
        return _account(row)

    async def login(self, data: SessionCreate, client_address: str) -> Session:
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        window = timedelta(minutes=settings.login_window_minutes)
        account_bucket = "account:" + data.email.strip().lower()
        address_bucket = "address:" + client_address
        async with self.ctx.acquire() as conn:
            try:
                async with conn.transaction():
                    reserved = await conn.fetch(
                        queries.RESERVE_LOGIN_ATTEMPT,
                        account_bucket,
                        address_bucket,
                        now,
                        window,
                        settings.login_max_failures_per_account,
                        settings.login_max_failures_per_address,
                    )
                    if len(reserved) < 2:
                        raise _Throttled()
            except _Throttled:
                throttled = await conn.fetch(
                    queries.THROTTLED_BUCKETS,
                    account_bucket,
                    now,
                    window,
                    settings.login_max_failures_per_account,
                    settings.login_max_failures_per_address,
                    address_bucket,
                )
                reopens = max((row["window_start"] for row in throttled), default=now) + window
                raise TooManyRequests(
                    "Too many failed logins; try again later.",
                    retry_after_s=int((reopens - now).total_seconds()) + 1,
                ) from None
            row = await conn.fetchrow(queries.ACCOUNT_FOR_LOGIN, data.email.strip())

        hasher = self.ctx.password_hasher
        stored_hash = row["password_hash"] if row else None
        valid = await asyncio.to_thread(_verify, hasher, stored_hash, data.password)
        if row is None or stored_hash is None or not valid:
            # One answer for unknown e-mail and wrong password; the reservation stays as the failure.
            raise Unauthorized("E-mail or password is wrong.", slug="bad-credentials")

        rehashed = None
        if hasher.check_needs_rehash(stored_hash):
            rehashed = await asyncio.to_thread(hasher.hash, data.password)
        token = new_token()
        expires_at = now + timedelta(minutes=settings.session_ttl_minutes)
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.INSERT_SESSION, row["id"], hash_token(token), now, expires_at)
            await conn.execute(queries.CLEAR_LOGIN_FAILURES, account_bucket)
            await conn.execute(queries.RELEASE_LOGIN_ATTEMPT, address_bucket)
            if rehashed:
                await conn.execute(queries.UPDATE_PASSWORD_HASH, row["id"], rehashed)
        return Session(token=token, expires_at=expires_at, account=_account(row))

    async def logout(self, caller: Caller) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.REVOKE_SESSION, caller.session_id, now)
            await end_live_access(conn, account_id=caller.account_id, session_id=caller.session_id, at=now)

    async def me(self, caller: Caller) -> Me:
        async with self.ctx.acquire() as conn:
            account = await conn.fetchrow(queries.ACCOUNT_BY_ID, caller.account_id)
            memberships = await conn.fetch(queries.MEMBERSHIPS_OF, caller.account_id)
        if account is None:
            raise NotFound()
        return Me(
            **_account_fields(account),
            memberships=[
                Membership(
                    organization_id=m["organization_id"], organization_kind=m["organization_kind"], role=m["role"]
                )
                for m in memberships
            ],
        )

    async def issue_ticket(self, caller: Caller, data: TicketCreate | None) -> Ticket:
        """A signed ticket for the websocket gateway naming the topics this caller may join."""
        if data is None or data.topics is None:
            topics = private_topics(caller)
        else:
            refused = [
                FieldError(field=f"$.topics[{index}]", message=f"You may not join {topic}")
                for index, topic in enumerate(data.topics)
                if not may_join(caller, topic)
            ]
            if refused:
                raise Forbidden("Some topics are not yours to join.", errors=refused)
            topics = list(dict.fromkeys(data.topics))
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            session_started = await conn.fetchval(queries.SESSION_STARTED, caller.session_id)
            memberships = await conn.fetch(queries.MEMBERSHIPS_SINCE, caller.account_id)
        if session_started is None:  # the session row went away since authentication
            raise Unauthorized()
        expires_at = now + timedelta(seconds=self.ctx.settings.ticket_ttl_seconds)
        claims = TicketClaims(
            sub=caller.account_id,
            sid=caller.session_id,
            jti=new_ticket_id(),
            topics=tuple(topics),
            since=tuple(int(_replay_floor(topic, session_started, memberships, now).timestamp()) for topic in topics),
            exp=int(expires_at.timestamp()),
            iat=int(now.timestamp()),
        )
        return Ticket(
            ticket=sign_ticket(self.ctx.settings.secret, claims),
            url=self.ctx.settings.gateway_url,
            topics=topics,
            expires_at=expires_at,
        )

    async def create_organization(self, caller: Caller, data: OrganizationCreate) -> Organization:
        if data.kind == "municipality" and data.municipality_id is None:
            raise Unprocessable(
                errors=[FieldError(field="$.municipalityId", message="A municipality needs its municipalityId")]
            )
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(
                queries.INSERT_ORGANIZATION, data.kind, data.name, data.municipality_id, self.ctx.clock.now()
            )
        return Organization(**dict(row))

    async def add_member(self, caller: Caller, organization_id: int, data: MemberCreate) -> Member:
        if not caller.is_prefecture_admin:
            caller.require_organization(organization_id, roles=("admin",))
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            if await conn.fetchval(queries.ORGANIZATION_EXISTS, organization_id) is None:
                raise NotFound()
            account = await conn.fetchrow(queries.ACCOUNT_BY_EMAIL, data.email)
            if account is None:
                raise Unprocessable(
                    "No account has this e-mail; the person must sign up first.",
                    slug="unknown-account",
                    errors=[FieldError(field="$.email", message="No account with this e-mail")],
                )
            row = await conn.fetchrow(queries.INSERT_MEMBERSHIP, organization_id, account["id"], data.role, now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="membership.grant",
                subject_type="account",
                subject_id=account["id"],
                reason=f"role {data.role} in organization {organization_id}",
                at=now,
            )
            # The member's open clients refresh their roles (and realtime topics) on this.
            await emit(
                conn,
                topic=f"user:{account['id']}",
                event=MembershipGranted(organization_id=organization_id, role=data.role),
                at=now,
            )
        return Member(
            organization_id=row["organization_id"],
            account_id=row["account_id"],
            email=account["email"],
            display_name=account["display_name"],
            role=row["role"],
            created_at=row["created_at"],
        )


async def end_live_access(conn: asyncpg.Connection, *, account_id: int, session_id: int | None, at: datetime) -> None:
    """Tell every gateway to close live sockets whose access ended, and to refuse their unused tickets.

    With `session_id`: that session's sockets (logout). Without: every socket of the account
    opened with a ticket issued up to now, since such tickets name the topics of memberships
    the account may no longer hold (membership removed or changed); tickets issued afterwards
    name today's topics and keep working. Call it inside the transaction that ends the access,
    so the gateways hear of it exactly when it is committed.
    """
    event = LiveAccessRevoked(account_id=account_id, session_id=session_id, issued_up_to=int(at.timestamp()))
    await emit(conn, topic=CONTROL_TOPIC, event=event, at=at)


def _replay_floor(
    topic: str, session_started: datetime, memberships: Sequence[asyncpg.Record], now: datetime
) -> datetime:
    """The earliest event time a ticket may replay on `topic`: when its session began or, for an
    organisation's or a board's topic, when the caller's earliest membership granting it began,
    if that is later. No such membership any more → nothing from the past."""
    if not needs_membership(topic):
        return session_started
    granted = [
        m["created_at"]
        for m in memberships
        if membership_grants(
            Membership(organization_id=m["organization_id"], organization_kind=m["organization_kind"], role=m["role"]),
            topic,
        )
    ]
    return max(session_started, min(granted)) if granted else now


def _account_fields(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "display_name": row["display_name"],
        "locale": row["locale"],
        "created_at": row["created_at"],
    }


def _account(row: asyncpg.Record) -> Account:
    return Account(**_account_fields(row))
