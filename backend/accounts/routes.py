"""HTTP ↔ AccountService. No rules here."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody, PathParameter

from backend.accounts.access import (
    ANY_ADMIN,
    PREFECTURE_ADMIN,
    PUBLIC,
    SIGNED_IN,
    Caller,
    access_rules,
    bearer_token,
    check_access,
    remember_caller,
    remembered_caller,
)
from backend.accounts.service import AccountService
from backend.context import app_context
from backend.errors import Unauthorized
from backend.organizations.routes import route_handlers as organization_handlers
from schema.accounts import (
    Account,
    AccountCreate,
    Me,
    Member,
    MemberCreate,
    Organization,
    OrganizationCreate,
    Session,
    SessionCreate,
)
from schema.base import MAX_ID
from schema.realtime import Ticket, TicketCreate

IdParam = Annotated[int, PathParameter(ge=1, le=MAX_ID)]


def account_service(state: State) -> AccountService:
    return AccountService(app_context(state))


async def resolve_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller | None:
    """The caller behind the bearer token, looked up once per request and remembered."""
    known, caller = remembered_caller(connection)
    if known:
        return caller
    token = bearer_token(connection)
    caller = await AccountService(app_context(connection.app.state)).authenticate(token) if token else None
    remember_caller(connection, caller)
    return caller


async def enforce_access(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: the handler's declared `access` rules, or fail closed."""
    rules = access_rules(handler)
    if rules is None:
        raise RuntimeError(f"{handler} declares no access rules")
    caller = None if PUBLIC in rules else await resolve_caller(connection)
    check_access(rules, caller)


async def current_caller(request: Request[Any, Any, Any]) -> Caller:
    caller = await resolve_caller(request)
    if caller is None:  # only reachable from a PUBLIC handler that asks for a caller
        raise Unauthorized()
    return caller


@post("/v1/accounts", access=PUBLIC, operation_id="createAccount")
async def create_account(data: JSONBody[AccountCreate], accounts: NamedDependency[AccountService]) -> Account:
    """Sign up. Residents need nothing more; staff roles are granted by an organisation admin."""
    return await accounts.register(data)


# No Idempotency-Key storage: the response holds a bearer token, which is kept only hashed.
# A repeated login simply opens another session.
@post("/v1/sessions", access=PUBLIC, operation_id="createSession", idempotency=False)
async def create_session(
    request: Request[Any, Any, Any], data: JSONBody[SessionCreate], accounts: NamedDependency[AccountService]
) -> Session:
    """Log in with e-mail and password; returns a bearer token."""
    client = request.client.host if request.client else "unknown"
    return await accounts.login(data, client)


@delete("/v1/sessions/current", access=SIGNED_IN, operation_id="deleteCurrentSession", status_code=204)
async def delete_current_session(caller: NamedDependency[Caller], accounts: NamedDependency[AccountService]) -> None:
    """Log out: the token stops working at once, and so do the session's realtime sockets and tickets."""
    await accounts.logout(caller)


@get("/v1/me", access=SIGNED_IN, operation_id="getMe")
async def get_me(caller: NamedDependency[Caller], accounts: NamedDependency[AccountService]) -> Me:
    """The caller's account and memberships."""
    return await accounts.me(caller)


@post("/v1/organizations", access=PREFECTURE_ADMIN, operation_id="createOrganization")
async def create_organization(
    data: JSONBody[OrganizationCreate], caller: NamedDependency[Caller], accounts: NamedDependency[AccountService]
) -> Organization:
    """Create an organisation (prefecture admin)."""
    return await accounts.create_organization(caller, data)


@post(
    "/v1/organizations/{organization_id:int}/members",
    access=(ANY_ADMIN,),
    operation_id="addOrganizationMember",
)
async def add_member(
    organization_id: IdParam,
    data: JSONBody[MemberCreate],
    caller: NamedDependency[Caller],
    accounts: NamedDependency[AccountService],
) -> Member:
    """Give an existing account a role in the organisation (its admin, or a prefecture admin)."""
    return await accounts.add_member(caller, organization_id, data)


# Changes nothing; a replayed ticket would have expired. Not stored for Idempotency-Key.
@post(
    "/v1/realtime/tickets", access=SIGNED_IN, operation_id="createRealtimeTicket", tags=["realtime"], idempotency=False
)
async def create_realtime_ticket(
    caller: NamedDependency[Caller],
    accounts: NamedDependency[AccountService],
    data: JSONBody[TicketCreate | None] = None,
) -> Ticket:
    """A short-lived signed ticket for the websocket gateway, naming the topics the caller may join.

    It opens one socket, once, and only while this login session lasts; logging out closes the
    session's sockets (4004).
    """
    return await accounts.issue_ticket(caller, data)


router = Router(
    path="/",
    route_handlers=[
        create_account,
        create_session,
        delete_current_session,
        get_me,
        create_organization,
        add_member,
        create_realtime_ticket,
        *organization_handlers,
    ],
    dependencies={"accounts": Provide(account_service, sync_to_thread=False)},
)
