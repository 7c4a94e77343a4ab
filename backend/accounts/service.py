"""Rules and transactions of accounts, sessions and organisations."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.accounts import queries
from backend.accounts.passwords import require_strong
from backend.audit import record_audit
from backend.auth import (
    Caller,
    hash_token,
    may_join,
    membership_grants,
    needs_membership,
    new_token,
    private_topics,
)
from backend.context import AppContext
from backend.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, Unprocessable
from backend.mail import messages
from backend.mail.outbox import queue_mail
from backend.outbox import emit
from backend.rows import from_row, from_rows
from backend.topics import user_topic
from realtime.tickets import TicketClaims, new_ticket_id, sign_ticket
from schema.accounts import (
    Account,
    AccountCreate,
    AccountExport,
    EmailChange,
    EmailVerification,
    Invitation,
    InvitationCreate,
    Me,
    Membership,
    NotificationPreferences,
    Organization,
    OrganizationCreate,
    PasswordChange,
    PasswordReset,
    PasswordResetRequest,
    ProfileUpdate,
    Session,
    SessionCreate,
    SessionInfo,
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


# Verification mails an account may ask for per hour (sign-up and address changes count too).
MAX_VERIFICATION_MAILS_PER_HOUR = 5


def new_link_token() -> str:
    """The secret of a mail link; only its SHA-256 is stored."""
    return secrets.token_urlsafe(32)


class _Throttled(Exception):
    """Rolls back a reservation that got only one of its two buckets."""


class AccountService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def register(self, data: AccountCreate) -> Account:
        require_strong(data.password, "$.password", data.email)
        password_hash = await asyncio.to_thread(self.ctx.password_hasher.hash, data.password)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                queries.INSERT_ACCOUNT, data.email, password_hash, data.display_name, data.locale, now
            )
            await self._mail_verification_link(conn, row["id"], row["email"], row["locale"], now)
        return _account(row)

    async def _mail_verification_link(
        self, conn: asyncpg.Connection, account_id: int, email: str, locale: messages.MailLocale, now: datetime
    ) -> None:
        """A fresh single-use link to `email`, in the caller's transaction; earlier links stop working."""
        hours = self.ctx.settings.email_verification_hours
        token = new_link_token()
        await conn.execute(queries.RETIRE_ACCOUNT_TOKENS, account_id, "verify_email", now)
        await conn.execute(
            queries.INSERT_ACCOUNT_TOKEN,
            account_id,
            "verify_email",
            hash_token(token),
            email,
            now,
            now + timedelta(hours=hours),
        )
        link = f"{self.ctx.settings.public_base_url}/verify?token={token}"
        await queue_mail(conn, account_id=account_id, to=email, mail=messages.verify_email(locale, link, hours), at=now)

    async def verify_email(self, data: EmailVerification) -> Account:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            used = await conn.fetchrow(queries.USE_ACCOUNT_TOKEN, hash_token(data.token), "verify_email", now)
            # The address may have changed since the link was sent; then it proves nothing.
            row = None
            if used is not None:
                row = await conn.fetchrow(queries.MARK_EMAIL_VERIFIED, used["account_id"], used["email"], now)
            if row is None:
                raise BadRequest(
                    "This link was already used, has expired or was replaced by a newer one.",
                    slug="link-invalid",
                    title="The link is not valid",
                )
        return _account(row)

    async def resend_verification(self, caller: Caller) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            account = await conn.fetchrow(queries.ACCOUNT_BY_ID_FOR_UPDATE, caller.account_id)
            if account is None:
                raise Unauthorized()
            if account["email_verified_at"] is not None:
                raise Conflict("This address is verified already.", slug="already-verified")
            sent = await conn.fetchval(
                queries.ACCOUNT_TOKENS_SENT_SINCE, caller.account_id, "verify_email", now - timedelta(hours=1)
            )
            if sent >= MAX_VERIFICATION_MAILS_PER_HOUR:
                raise TooManyRequests("Several links were sent in the last hour; use the newest.", retry_after_s=3600)
            await self._mail_verification_link(conn, caller.account_id, account["email"], account["locale"], now)

    async def change_email(self, caller: Caller, data: EmailChange) -> Account:
        """A new address is unverified until its link is followed; the old address is told of the change."""
        async with self.ctx.acquire() as conn:
            stored_hash = await conn.fetchval(queries.PASSWORD_HASH_OF, caller.account_id)
        if not await asyncio.to_thread(_verify, self.ctx.password_hasher, stored_hash, data.current_password):
            raise Forbidden("The current password is wrong.", slug="wrong-password", title="Wrong password")
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            before = await conn.fetchrow(queries.ACCOUNT_BY_ID_FOR_UPDATE, caller.account_id)
            if before is None:
                raise Unauthorized()
            if before["email"].lower() == data.email.lower():
                raise Conflict("That is the current address.", slug="same-email")
            row = await conn.fetchrow(queries.CHANGE_EMAIL, caller.account_id, data.email)
            await self._mail_verification_link(conn, row["id"], row["email"], row["locale"], now)
            await queue_mail(
                conn, account_id=row["id"], to=before["email"], mail=messages.email_changed(row["locale"]), at=now
            )
            await record_audit(
                conn,
                actor=caller.account_id,
                action="account.email_changed",
                subject_type="account",
                subject_id=caller.account_id,
                reason=None,
                at=now,
            )
        return _account(row)

    async def change_password(self, caller: Caller, data: PasswordChange) -> None:
        """Needs the current password; every other session of the account ends (and its sockets close)."""
        require_strong(data.new, "$.new")
        async with self.ctx.acquire() as conn:
            stored_hash = await conn.fetchval(queries.PASSWORD_HASH_OF, caller.account_id)
        if not await asyncio.to_thread(_verify, self.ctx.password_hasher, stored_hash, data.current):
            raise Forbidden("The current password is wrong.", slug="wrong-password", title="Wrong password")
        new_hash = await asyncio.to_thread(self.ctx.password_hasher.hash, data.new)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            account = await conn.fetchrow(queries.ACCOUNT_BY_ID_FOR_UPDATE, caller.account_id)
            if account is None:
                raise Unauthorized()
            await conn.execute(queries.UPDATE_PASSWORD_HASH, caller.account_id, new_hash)
            await self._end_sessions(conn, caller.account_id, keep=caller.session_id, at=now)
            notice = messages.password_changed(account["locale"])
            await queue_mail(conn, account_id=account["id"], to=account["email"], mail=notice, at=now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="account.password_changed",
                subject_type="account",
                subject_id=caller.account_id,
                reason=None,
                at=now,
            )

    async def _end_sessions(self, conn: asyncpg.Connection, account_id: int, *, keep: int | None, at: datetime) -> int:
        """Revoke the account's sessions (all but `keep`) and close their live sockets, in the caller's transaction."""
        ended = await conn.fetch(queries.REVOKE_SESSIONS_EXCEPT, account_id, at, keep)
        for session in ended:
            await end_live_access(conn, account_id=account_id, session_id=session["id"], at=at)
        return len(ended)

    async def request_password_reset(self, data: PasswordResetRequest, client_address: str) -> None:
        """Mail a reset link if the address has an account. The answer is the same either way;
        requests are throttled per address asked for and per client, counted before the lookup."""
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        window = timedelta(minutes=settings.password_reset_window_minutes)
        account_bucket = "reset:account:" + data.email.strip().lower()
        address_bucket = "reset:address:" + client_address
        async with self.ctx.acquire() as conn, conn.transaction():
            reserved = await conn.fetch(
                queries.RESERVE_LOGIN_ATTEMPT,
                account_bucket,
                address_bucket,
                now,
                window,
                settings.password_reset_max_per_account,
                settings.password_reset_max_per_address,
            )
            if len(reserved) < 2:
                raise TooManyRequests(
                    "Several reset links were asked for recently; use the newest or try later.",
                    retry_after_s=int(window.total_seconds()),
                )
            account = await conn.fetchrow(queries.ACCOUNT_FOR_RESET, data.email.strip())
            if account is None:
                return
            minutes = settings.password_reset_minutes
            token = new_link_token()
            await conn.execute(queries.RETIRE_ACCOUNT_TOKENS, account["id"], "reset_password", now)
            await conn.execute(
                queries.INSERT_ACCOUNT_TOKEN,
                account["id"],
                "reset_password",
                hash_token(token),
                account["email"],
                now,
                now + timedelta(minutes=minutes),
            )
            link = f"{settings.public_base_url}/reset-password?token={token}"
            mail = messages.reset_password(account["locale"], link, minutes)
            await queue_mail(conn, account_id=account["id"], to=account["email"], mail=mail, at=now)

    async def reset_password(self, token: str, data: PasswordReset) -> Account:
        """Set a new password with a mailed link. Following it proves the address too, so it is
        verified; every session ends, including whoever had registered the address first."""
        require_strong(data.password, "$.password")
        new_hash = await asyncio.to_thread(self.ctx.password_hasher.hash, data.password)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            used = await conn.fetchrow(queries.USE_ACCOUNT_TOKEN, hash_token(token), "reset_password", now)
            row = None
            if used is not None:
                row = await conn.fetchrow(queries.MARK_EMAIL_VERIFIED, used["account_id"], used["email"], now)
            if row is None:
                raise BadRequest(
                    "This link was already used, has expired or was replaced by a newer one.",
                    slug="link-invalid",
                    title="The link is not valid",
                )
            await conn.execute(queries.UPDATE_PASSWORD_HASH, row["id"], new_hash)
            await self._end_sessions(conn, row["id"], keep=None, at=now)
            await queue_mail(
                conn, account_id=row["id"], to=row["email"], mail=messages.password_changed(row["locale"]), at=now
            )
            await record_audit(
                conn,
                actor=row["id"],
                action="account.password_reset",
                subject_type="account",
                subject_id=row["id"],
                reason=None,
                at=now,
            )
        return _account(row)

    async def update_profile(self, caller: Caller, data: ProfileUpdate) -> Me:
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.fetchrow(queries.ACCOUNT_BY_ID_FOR_UPDATE, caller.account_id)
            stored = msgspec.convert(
                await conn.fetchval(queries.NOTIFICATION_PREFS, caller.account_id) or {}, NotificationPreferences
            )
            if data.notifications is not None:
                stored.push.update(data.notifications.push)
                stored.email.update(data.notifications.email)
            await conn.execute(
                queries.UPDATE_PROFILE,
                caller.account_id,
                data.display_name,
                data.locale,
                msgspec.to_builtins(stored),
            )
        return await self.me(caller)

    async def sessions(self, caller: Caller) -> list[SessionInfo]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.SESSIONS_OF, caller.account_id, self.ctx.clock.now())
        return [from_row(SessionInfo, row, current=row["id"] == caller.session_id) for row in rows]

    async def revoke_session(self, caller: Caller, session_id: int) -> None:
        """End one of the caller's own sessions (404 for anyone else's) and close its sockets."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            if await conn.fetchval(queries.REVOKE_OWN_SESSION, session_id, caller.account_id, now) is None:
                raise NotFound()
            await end_live_access(conn, account_id=caller.account_id, session_id=session_id, at=now)

    async def revoke_other_sessions(self, caller: Caller) -> None:
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._end_sessions(conn, caller.account_id, keep=caller.session_id, at=self.ctx.clock.now())

    async def export(self, caller: Caller) -> AccountExport:
        account = await self.me(caller)
        records = {}
        async with self.ctx.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            for name, sql in queries.EXPORT_QUERIES.items():
                records[name] = await conn.fetchval(sql, caller.account_id)
        return AccountExport(account=account, records=records)

    async def erase(self, caller: Caller, at: datetime) -> None:
        """The last step of deleting an account (backend/accounts/erasure.py cancels what it holds first)."""
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.fetchrow(queries.ACCOUNT_BY_ID_FOR_UPDATE, caller.account_id)
            blockers = await conn.fetch(queries.ONLY_ADMIN_OF, caller.account_id)
            if blockers:
                raise deletion_blocked(blockers)
            await self._end_sessions(conn, caller.account_id, keep=None, at=at)
            await end_live_access(conn, account_id=caller.account_id, session_id=None, at=at)
            for statement in (
                queries.REVOKE_MEMBERSHIPS,
                queries.ERASE_CHILDREN,
                queries.FORGET_DEVICES,
                queries.FORGET_ACCOUNT_TOKENS,
                queries.FORGET_QUEUED_MAIL,
                queries.FORGET_RESIDENCIES,
            ):
                await conn.execute(statement, caller.account_id)
            await conn.execute(queries.ERASE_ACCOUNT, caller.account_id, at)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="account.erased",
                subject_type="account",
                subject_id=caller.account_id,
                reason="deleted by its owner",
                at=at,
            )

    async def deletion_blockers(self, caller: Caller) -> None:
        async with self.ctx.acquire() as conn:
            blockers = await conn.fetch(queries.ONLY_ADMIN_OF, caller.account_id)
        if blockers:
            raise deletion_blocked(blockers)

    async def login(self, data: SessionCreate, client_address: str, user_agent: str | None = None) -> Session:
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
            device = user_agent[:200] if user_agent else None
            await conn.execute(queries.INSERT_SESSION, row["id"], hash_token(token), now, expires_at, device)
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
            prefs = await conn.fetchval(queries.NOTIFICATION_PREFS, caller.account_id)
        if account is None:
            raise NotFound()
        return from_row(
            Me,
            account,
            email_verified=account["email_verified_at"] is not None,
            notifications=msgspec.convert(prefs or {}, NotificationPreferences),
            memberships=from_rows(Membership, memberships),
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
        return from_row(Organization, row)

    def _require_admin_of(self, caller: Caller, organization_id: int) -> None:
        if not caller.is_prefecture_admin:
            caller.require_organization(organization_id, roles=("admin",))

    async def invite(self, caller: Caller, organization_id: int, data: InvitationCreate) -> Invitation:
        """Mail a single-use link offering `role`; nothing is granted until the address's owner accepts."""
        self._require_admin_of(caller, organization_id)
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        token = new_link_token()
        async with self.ctx.acquire() as conn, conn.transaction():
            organization_name = await conn.fetchval(queries.ORGANIZATION_NAME, organization_id)
            if organization_name is None:
                raise NotFound()
            await conn.execute(queries.REVOKE_PENDING_INVITATION_FOR, organization_id, data.email, data.role, now)
            row = await conn.fetchrow(
                queries.INSERT_INVITATION,
                organization_id,
                data.email,
                data.role,
                hash_token(token),
                caller.account_id,
                now,
                now + timedelta(days=settings.invitation_days),
            )
            # The invitee's language if they have an account; the inviter learns nothing of that.
            locale: messages.MailLocale = (
                "en" if await conn.fetchval(queries.LOCALE_OF_ADDRESS, data.email) == "en" else "ja"
            )
            link = f"{settings.public_base_url}/invitations?token={token}"
            mail = messages.invitation(locale, link, organization_name, data.role, settings.invitation_days)
            await queue_mail(conn, account_id=None, to=data.email, mail=mail, at=now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="invitation.create",
                subject_type="organization",
                subject_id=organization_id,
                reason=f"role {data.role}",
                at=now,
            )
        return from_row(Invitation, row)

    async def pending_invitations(self, caller: Caller, organization_id: int) -> list[Invitation]:
        self._require_admin_of(caller, organization_id)
        async with self.ctx.acquire() as conn:
            if await conn.fetchval(queries.ORGANIZATION_EXISTS, organization_id) is None:
                raise NotFound()
            rows = await conn.fetch(queries.PENDING_INVITATIONS, organization_id, self.ctx.clock.now())
        return from_rows(Invitation, rows)

    async def revoke_invitation(self, caller: Caller, organization_id: int, invitation_id: int) -> None:
        self._require_admin_of(caller, organization_id)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            if await conn.fetchval(queries.REVOKE_INVITATION, invitation_id, organization_id, now) is None:
                raise NotFound()
            await record_audit(
                conn,
                actor=caller.account_id,
                action="invitation.revoke",
                subject_type="organization",
                subject_id=organization_id,
                reason=f"invitation {invitation_id}",
                at=now,
            )

    async def accept_invitation(self, caller: Caller, token: str) -> Membership:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            accepted = await conn.fetchrow(queries.ACCEPT_INVITATION, hash_token(token), caller.account_id, now)
            if accepted is None:
                found = await conn.fetchrow(queries.INVITATION_BY_TOKEN, hash_token(token), now)
                if found is None or not found["open"]:
                    raise NotFound("This invitation was accepted, revoked, replaced or has expired.")
                account = await conn.fetchrow(queries.ACCOUNT_BY_ID, caller.account_id)
                if account is None or account["email"].lower() != found["email"].lower():
                    raise Forbidden(
                        "This invitation is for another address; sign in with the invited one.",
                        slug="invitation-for-another-address",
                    )
                raise Forbidden(
                    "Verify your e-mail address first, then accept the invitation.",
                    slug="email-not-verified",
                    title="E-mail address not verified",
                )
            organization_id, role = accepted["organization_id"], accepted["role"]
            await conn.execute(queries.INSERT_MEMBERSHIP, organization_id, caller.account_id, role, now)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="membership.grant",
                subject_type="account",
                subject_id=caller.account_id,
                reason=f"role {role} in organization {organization_id} by invitation {accepted['id']}",
                at=now,
            )
            # The member's open clients refresh their roles (and realtime topics) on this.
            await emit(
                conn,
                topic=user_topic(caller.account_id),
                event=MembershipGranted(organization_id=organization_id, role=role),
                at=now,
            )
            kind = await conn.fetchval(queries.ORGANIZATION_KIND, organization_id)
        return Membership(organization_id=organization_id, organization_kind=kind, role=role)


def deletion_blocked(blockers: Sequence[asyncpg.Record]) -> Conflict:
    return Conflict(
        "You are the only administrator of these organisations; invite another administrator first.",
        slug="deletion-blocked",
        title="The account has open duties",
        errors=[
            FieldError(field=f"organization:{b['organization_id']}", message=f"only admin of {b['name']}")
            for b in blockers
        ],
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
            from_row(Membership, m),
            topic,
        )
    ]
    return max(session_started, min(granted)) if granted else now


def _account(row: asyncpg.Record) -> Account:
    return from_row(Account, row, email_verified=row["email_verified_at"] is not None)
