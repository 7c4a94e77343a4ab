"""Who is calling, and what they may do: the core of authentication and access, used by every
context's routes, the idempotency middleware and the app (so none of them reaches into a context).

Every route handler declares `access=` in its decorator (Litestar puts it into `opt`); one
app-level guard enforces it, and `create_app` refuses to start if a handler forgot. Rules
say which *roles* may call; which *rows* a caller may touch is decided in the services with
`Caller.organization_ids`, answering 404 for anything outside the caller's organisations.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from backend.core.context import app_context
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.core.topics import (
    HOSPITAL_BOARD,
    SHELTER_VACANCY_BOARD,
    is_vacancy_topic,
    organization_topic,
    personal_account,
    user_topic,
)
from schema.accounts import Membership, OrganizationKind, Role

TOKEN_PREFIX: Final = "msb_"
_STATE_KEY: Final = "musubi.caller"


@dataclass(frozen=True, slots=True)
class Member:
    """A rule: a membership of this role in an organisation of this kind (None = any)."""

    kind: OrganizationKind | None = None
    role: Role | None = None

    def admits(self, membership: Membership) -> bool:
        return (self.kind is None or membership.organization_kind == self.kind) and (
            self.role is None or membership.role == self.role
        )


class Open(enum.Enum):
    # An enum, not sentinels: Litestar copies handler `opt`, and enum members survive copying.
    PUBLIC = "public"  # no token needed
    SIGNED_IN = "signed_in"  # any account, including residents with no membership
    # An account whose e-mail address is verified: what books, reserves, applies or registers a child.
    VERIFIED = "verified"


PUBLIC: Final = Open.PUBLIC
SIGNED_IN: Final = Open.SIGNED_IN
VERIFIED: Final = Open.VERIFIED
PREFECTURE_ADMIN: Final = Member("prefecture", "admin")
ANY_ADMIN: Final = Member(None, "admin")
ANY_MEMBER: Final = Member(None, None)

AccessRule = Open | Member


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: int
    session_id: int
    locale: str
    memberships: tuple[Membership, ...]
    email_verified: bool = False
    # The municipality whose residency staff verified, if any: what resident fees and booking
    # horizons go by (an address typed at sign-up is not enough).
    residency_municipality_id: int | None = None
    # Kept by this process from an earlier request (see KEPT_CALLER) instead of read now: only a
    # command whose own statement checks the session again may act on it.
    kept: bool = False

    def satisfies(self, rules: Iterable[AccessRule]) -> bool:
        for rule in rules:
            if isinstance(rule, Open):
                if rule is Open.VERIFIED and not self.email_verified:
                    continue
                return True
            if isinstance(rule, Member) and any(rule.admits(m) for m in self.memberships):
                return True
        return False

    def organization_ids(
        self, kind: OrganizationKind | None = None, roles: Iterable[Role] | None = None
    ) -> frozenset[int]:
        """The organisations in which the caller holds one of `roles` (any role when None)."""
        wanted = None if roles is None else frozenset(roles)
        return frozenset(
            m.organization_id
            for m in self.memberships
            if (kind is None or m.organization_kind == kind) and (wanted is None or m.role in wanted)
        )

    @property
    def is_prefecture_admin(self) -> bool:
        return any(PREFECTURE_ADMIN.admits(m) for m in self.memberships)

    def require_organization(
        self, organization_id: int, kind: OrganizationKind | None = None, roles: Iterable[Role] | None = None
    ) -> None:
        """404 unless the caller holds one of `roles` in that organisation.

        404 rather than 403: a caller outside an organisation must not learn what it contains.
        """
        if organization_id not in self.organization_ids(kind, roles):
            raise NotFound()


# Vacancy topics are open to anyone signed in. Prefecture-wide boards, and the memberships that may watch them:
_BOARD_TOPICS: Final[dict[str, tuple[Member, ...]]] = {
    SHELTER_VACANCY_BOARD: (Member("guidance_center", "caseworker"), Member("shelter", None)),
    HOSPITAL_BOARD: (Member("fire_department", "paramedic"), Member("hospital", None)),
}


def private_topics(caller: Caller) -> list[str]:
    """Every topic the caller may join without naming it: their own, their organisations', their boards'."""
    topics = [user_topic(caller.account_id)]
    for membership in caller.memberships:
        topic = organization_topic(membership.organization_kind, membership.organization_id)
        if topic not in topics:
            topics.append(topic)
    topics.extend(board for board, rules in _BOARD_TOPICS.items() if caller.satisfies(rules))
    return topics


def membership_grants(membership: Membership, topic: str) -> bool:
    """Whether this membership is what lets its holder join `topic` (public and personal topics need none)."""
    if topic in _BOARD_TOPICS:
        return any(rule.admits(membership) for rule in _BOARD_TOPICS[topic])
    return topic == organization_topic(membership.organization_kind, membership.organization_id)


def needs_membership(topic: str) -> bool:
    return not (personal_account(topic) is not None or is_vacancy_topic(topic))


def may_join(caller: Caller, topic: str) -> bool:
    return is_vacancy_topic(topic) or topic in private_topics(caller)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return token


def caller_from_row(row: Any) -> Caller:
    return Caller(
        account_id=row["account_id"],
        session_id=row["session_id"],
        locale=row["locale"],
        memberships=msgspec.convert(row["memberships"], tuple[Membership, ...]),
        email_verified=row["email_verified"],
        residency_municipality_id=row["residency_municipality_id"],
    )


def remember_caller(connection: ASGIConnection[Any, Any, Any, Any], caller: Caller | None) -> None:
    connection.scope.setdefault("state", {})[_STATE_KEY] = caller


def forget_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    (connection.scope.get("state") or {}).pop(_STATE_KEY, None)


def remembered_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[bool, Caller | None]:
    state = connection.scope.get("state") or {}
    if _STATE_KEY in state:
        return True, state[_STATE_KEY]
    return False, None


def access_rules(handler: BaseRouteHandler) -> tuple[AccessRule, ...] | None:
    rules = handler.opt.get("access")
    if rules is None:
        return None
    if isinstance(rules, AccessRule):
        return (rules,)
    return tuple(rules)


def check_access(rules: tuple[AccessRule, ...], caller: Caller | None) -> None:
    if PUBLIC in rules:
        return
    if caller is None:
        raise Unauthorized()
    if not caller.satisfies(rules):
        if VERIFIED in rules and not caller.email_verified:
            raise Forbidden(
                "Follow the link mailed to your address first (POST /v1/accounts/verification sends a new one).",
                slug="email-not-verified",
                title="E-mail address not verified",
            )
        raise Forbidden()


# The caller behind a session token, with every live membership, in one statement. The session's
# last use is touched at most once a minute.
# A data-modifying CTE must sit at the top level of a statement, so the two parts are named apart:
# the idempotency middleware composes them with its key claim into one statement of its own.
TOUCH_SESSION = """touched AS (
    UPDATE sessions SET last_used_at = $2
     WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2
       AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')
)"""
CALLER_OF_SESSION = """
SELECT s.id AS session_id, a.id AS account_id, a.locale, a.email_verified_at IS NOT NULL AS email_verified,
       verified_municipality(a.id) AS residency_municipality_id,
       coalesce(jsonb_agg(jsonb_build_object(
                    'organizationId', o.id, 'organizationKind', o.kind, 'role', m.role)
                ORDER BY o.id, m.role) FILTER (WHERE m.role IS NOT NULL), '[]') AS memberships
  FROM sessions s
  JOIN accounts a ON a.id = s.account_id
  -- Read on every request, so a removed membership or a deactivated organisation stops
  -- granting anything from the token's next request on.
  LEFT JOIN (memberships m JOIN organizations o ON o.id = m.organization_id AND o.deactivated_at IS NULL)
         ON m.account_id = a.id
 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
 GROUP BY s.id, a.id
"""
CALLER_BY_TOKEN = f"WITH {TOUCH_SESSION}{CALLER_OF_SESSION}"


# A handler whose command checks the session in its own statement declares `opt={KEPT_CALLER: True}`
# and may be handed a caller this process looked up within the last KEPT_SECONDS (Caller.kept), which
# saves the lookup's round trip on the booking rush's hot path. The command sends the caller's
# session and what it acts on (e.g. the residency it prices with); when any of it changed, the
# command raises CallerChanged and the handler runs it again for the caller read now (fresh_caller).
# Nothing else ever sees a kept caller, so no logout or revoked membership needs to reach the cache;
# nor may a handler whose rules or command go by memberships declare it (its statement checks none).
# A kept caller the rules refuse is read again before the refusal (they may have verified since).
KEPT_CALLER: Final = "kept_caller"
KEPT_SECONDS: Final = 30.0
_KEPT_MAX: Final = 50_000  # tokens per process; past that the cache starts again
_KEPT: Final = "auth.kept_callers"


class CallerChanged(Exception):
    """The kept caller a command acted on is no longer the session's (signed out, expired, another
    verification or residency): run the command again for `fresh_caller`."""


async def resolve_caller(connection: ASGIConnection[Any, Any, Any, Any], *, kept: bool = False) -> Caller | None:
    """The caller behind the bearer token, looked up once per request and remembered; with `kept`,
    one this process looked up for the same token within KEPT_SECONDS will do."""
    known, caller = remembered_caller(connection)
    if known:
        return caller
    token = bearer_token(connection)
    caller = None
    if token:
        ctx = app_context(connection.app.state)
        token_hash = hash_token(token)
        cache: dict[bytes, tuple[float, Caller]] = ctx.memo.setdefault(_KEPT, {})
        entry = cache.get(token_hash) if kept else None
        if entry is not None and entry[0] > time.monotonic():
            caller = entry[1]
        else:
            async with ctx.acquire() as conn:
                row = await conn.fetchrow(CALLER_BY_TOKEN, token_hash, ctx.clock.now())
            caller = caller_from_row(row) if row else None
            if kept and caller is not None:
                if len(cache) >= _KEPT_MAX:
                    cache.clear()
                cache[token_hash] = (time.monotonic() + KEPT_SECONDS, dataclasses.replace(caller, kept=True))
            else:
                cache.pop(token_hash, None)
    remember_caller(connection, caller)
    return caller


async def fresh_caller(request: Request[Any, Any, Any]) -> Caller:
    """The caller read now (after a command refused a kept one), held to the handler's rules again."""
    forget_caller(request)
    caller = await resolve_caller(request)
    rules = access_rules(request.route_handler)
    assert rules is not None  # a handler with KEPT_CALLER has passed the guard
    check_access(rules, caller)
    assert caller is not None  # check_access lets no one else through
    return caller


async def enforce_access(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: the handler's declared `access` rules, or fail closed."""
    rules = access_rules(handler)
    if rules is None:
        raise RuntimeError(f"{handler} declares no access rules")
    caller = None if PUBLIC in rules else await resolve_caller(connection, kept=handler.opt.get(KEPT_CALLER, False))
    if caller is not None and caller.kept and not caller.satisfies(rules):
        forget_caller(connection)  # refused only as the caller is now (they may have verified since)
        caller = await resolve_caller(connection)
    check_access(rules, caller)


async def current_caller(request: Request[Any, Any, Any]) -> Caller:
    caller = await resolve_caller(request)
    if caller is None:  # only reachable from a PUBLIC handler that asks for a caller
        raise Unauthorized()
    return caller
