"""HTTP ↔ AccountService. No rules here."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from backend.accounts.erasure import delete_account
from backend.accounts.pages import link_page
from backend.accounts.residency import ResidencyService
from backend.accounts.service import AccountService
from backend.auth import (
    ANY_ADMIN,
    PUBLIC,
    SIGNED_IN,
    VERIFIED,
    Member,
)
from backend.context import app_context
from backend.errors import DomainError
from backend.pagination import after_id, page
from backend.params import Cursor, IdParam, Limit, Me
from schema.accounts import (
    Account,
    AccountCreate,
    AccountExport,
    EmailChange,
    EmailVerification,
    Invitation,
    InvitationCreate,
    Membership,
    PasswordChange,
    PasswordReset,
    PasswordResetRequest,
    ProfileUpdate,
    Residency,
    ResidencyDeclaration,
    ResidencyDecline,
    ResidencyRequest,
    Session,
    SessionCreate,
    SessionInfo,
)
from schema.accounts import (
    Me as Profile,
)
from schema.realtime import Ticket, TicketCreate

TokenQuery = Annotated[str, QueryParameter(max_length=200)]
LinkTokenParam = Annotated[str, PathParameter(min_length=10, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def account_service(state: State) -> AccountService:
    return AccountService(app_context(state))


def residency_service(state: State) -> ResidencyService:
    return ResidencyService(app_context(state))


MUNICIPAL_STAFF = (Member("municipality", "staff"), Member("municipality", "admin"))


@post("/v1/accounts", access=PUBLIC, operation_id="createAccount")
async def create_account(data: JSONBody[AccountCreate], accounts: NamedDependency[AccountService]) -> Account:
    """Sign up. Residents need nothing more; staff roles are granted by an organisation admin."""
    return await accounts.register(data)


@post("/v1/accounts/verify", access=PUBLIC, operation_id="verifyEmail", status_code=200)
async def verify_email(data: JSONBody[EmailVerification], accounts: NamedDependency[AccountService]) -> Account:
    """Follow the verification link: its token (single use, expiring) proves the address."""
    return await accounts.verify_email(data)


@post(
    "/v1/accounts/verification",
    access=SIGNED_IN,
    operation_id="resendVerification",
    status_code=202,
)
async def resend_verification(caller: Me, accounts: NamedDependency[AccountService]) -> None:
    """Mail a fresh verification link to the caller's address (earlier links stop working)."""
    await accounts.resend_verification(caller)


@put("/v1/me/email", access=SIGNED_IN, operation_id="changeEmail")
async def change_email(data: JSONBody[EmailChange], caller: Me, accounts: NamedDependency[AccountService]) -> Account:
    """Move the account to another address (current password needed); it is unverified until its link is followed."""
    return await accounts.change_email(caller, data)


# The page a verification link opens. Opening it changes nothing — mail scanners fetch links
# before people do — its button posts the token.
@get("/verify", access=PUBLIC, operation_id="verifyEmailPage", include_in_schema=False, media_type="text/html")
async def verify_page(token: TokenQuery = "") -> Response[str]:
    return link_page("verify", token)


@post("/verify", access=PUBLIC, operation_id="verifyEmailForm", include_in_schema=False, media_type="text/html")
async def verify_form(request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Response[str]:
    token = str((await request.form()).get("token", ""))
    try:
        await accounts.verify_email(EmailVerification(token=token))
    except DomainError:
        return link_page("verify-failed", "", status_code=400)
    return link_page("verified", "")


@post("/v1/me/password", access=SIGNED_IN, operation_id="changePassword", status_code=204)
async def change_password(
    data: JSONBody[PasswordChange], caller: Me, accounts: NamedDependency[AccountService]
) -> None:
    """Change the password (the current one is needed); every other session of the account ends."""
    await accounts.change_password(caller, data)


@post("/v1/password-resets", access=PUBLIC, operation_id="requestPasswordReset", status_code=202)
async def request_password_reset(
    request: Request[Any, Any, Any], data: JSONBody[PasswordResetRequest], accounts: NamedDependency[AccountService]
) -> None:
    """Mail a reset link (30 minutes, once). The same answer whether the address has an account or not."""
    client = request.client.host if request.client else "unknown"
    await accounts.request_password_reset(data, client)


@post("/v1/password-resets/{token:str}", access=PUBLIC, operation_id="resetPassword", status_code=200)
async def reset_password(
    token: LinkTokenParam, data: JSONBody[PasswordReset], accounts: NamedDependency[AccountService]
) -> Account:
    """Set a new password with the mailed link; every session of the account ends."""
    return await accounts.reset_password(token, data)


@get(
    "/reset-password", access=PUBLIC, operation_id="resetPasswordPage", include_in_schema=False, media_type="text/html"
)
async def reset_page(token: TokenQuery = "") -> Response[str]:
    return link_page("reset", token)


@post(
    "/reset-password", access=PUBLIC, operation_id="resetPasswordForm", include_in_schema=False, media_type="text/html"
)
async def reset_form(request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Response[str]:
    form = await request.form()
    try:
        await accounts.reset_password(str(form.get("token", "")), PasswordReset(password=str(form.get("password", ""))))
    except DomainError:
        return link_page("reset-failed", "", status_code=400)
    return link_page("reset-done", "")


# No Idempotency-Key storage: the response holds a bearer token, which is kept only hashed.
# A repeated login simply opens another session.
@post("/v1/sessions", access=PUBLIC, operation_id="createSession", idempotency=False)
async def create_session(
    request: Request[Any, Any, Any], data: JSONBody[SessionCreate], accounts: NamedDependency[AccountService]
) -> Session:
    """Log in with e-mail and password; returns a bearer token."""
    client = request.client.host if request.client else "unknown"
    return await accounts.login(data, client, request.headers.get("user-agent"))


@delete("/v1/sessions/current", access=SIGNED_IN, operation_id="deleteCurrentSession", status_code=204)
async def delete_current_session(caller: Me, accounts: NamedDependency[AccountService]) -> None:
    """Log out: the token stops working at once, and so do the session's realtime sockets and tickets."""
    await accounts.logout(caller)


@get("/v1/me", access=SIGNED_IN, operation_id="getMe")
async def get_me(caller: Me, accounts: NamedDependency[AccountService]) -> Profile:
    """The caller's account and memberships."""
    return await accounts.me(caller)


@patch("/v1/me", access=SIGNED_IN, operation_id="updateMe")
async def update_me(data: JSONBody[ProfileUpdate], caller: Me, accounts: NamedDependency[AccountService]) -> Profile:
    """Change the display name, language or notification preferences (per kind and channel)."""
    return await accounts.update_profile(caller, data)


@put("/v1/me/residency", access=VERIFIED, operation_id="declareResidency")
async def declare_residency(
    data: JSONBody[ResidencyDeclaration],
    caller: Me,
    residencies: NamedDependency[ResidencyService],
) -> Residency:
    """Declare the municipality you live in; it counts once that municipality verifies it. A move
    (another municipality) ends the current residency, verified or not; the same one again changes nothing."""
    return await residencies.declare(caller, data.municipality_id)


@get("/v1/me/residency", access=SIGNED_IN, operation_id="getMyResidency", answers=(404,))
async def get_residency(caller: Me, residencies: NamedDependency[ResidencyService]) -> Residency:
    """The caller's newest declaration and its state (pending, verified, or declined with the reason);
    404 before any declaration."""
    return await residencies.current(caller)


@get(
    "/v1/municipalities/{municipality_id:int}/residency-requests",
    access=MUNICIPAL_STAFF,
    operation_id="listResidencyRequests",
)
async def list_residency_requests(
    request: Request[Any, Any, Any],
    municipality_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    caller: Me,
    residencies: NamedDependency[ResidencyService],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[ResidencyRequest]]:
    """Declarations waiting for this municipality's check, oldest first."""
    items = await residencies.queue(caller, municipality_id, after_id(cursor), limit)
    return page(request, items, limit)


@post(
    "/v1/municipalities/{municipality_id:int}/residency-requests/{residency_id:int}/approve",
    access=MUNICIPAL_STAFF,
    operation_id="approveResidency",
    status_code=200,
)
async def approve_residency(
    municipality_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    residency_id: IdParam,
    caller: Me,
    residencies: NamedDependency[ResidencyService],
) -> Residency:
    """The residence record was checked: from now on the account is this municipality's resident."""
    return await residencies.decide(caller, municipality_id, residency_id, approve=True, reason=None)


@post(
    "/v1/municipalities/{municipality_id:int}/residency-requests/{residency_id:int}/decline",
    access=MUNICIPAL_STAFF,
    operation_id="declineResidency",
    status_code=200,
)
async def decline_residency(
    municipality_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    residency_id: IdParam,
    data: JSONBody[ResidencyDecline],
    caller: Me,
    residencies: NamedDependency[ResidencyService],
) -> Residency:
    """Not a resident here (the reason is shown to the person)."""
    return await residencies.decide(caller, municipality_id, residency_id, approve=False, reason=data.reason)


@get("/v1/me/sessions", access=SIGNED_IN, operation_id="listMySessions")
async def list_sessions(caller: Me, accounts: NamedDependency[AccountService]) -> list[SessionInfo]:
    """The caller's live sessions: device, created, last used; `current` marks this one."""
    return await accounts.sessions(caller)


@delete("/v1/me/sessions/{session_id:int}", access=SIGNED_IN, operation_id="revokeMySession", status_code=204)
async def revoke_session(session_id: IdParam, caller: Me, accounts: NamedDependency[AccountService]) -> None:
    """End one of the caller's sessions (its sockets close)."""
    await accounts.revoke_session(caller, session_id)


@delete("/v1/me/sessions", access=SIGNED_IN, operation_id="revokeMyOtherSessions", status_code=204)
async def revoke_other_sessions(caller: Me, accounts: NamedDependency[AccountService]) -> None:
    """End every session of the caller but this one."""
    await accounts.revoke_other_sessions(caller)


@get("/v1/me/export", access=SIGNED_IN, operation_id="exportMe")
async def export_me(caller: Me, accounts: NamedDependency[AccountService]) -> AccountExport:
    """Everything held about the caller, as JSON."""
    return await accounts.export(caller)


@delete("/v1/me", access=SIGNED_IN, operation_id="deleteMe", status_code=204)
async def delete_me(state: State, caller: Me) -> None:
    """Delete the account: sessions end, future bookings and reservations are cancelled under the
    normal rules, personal fields are erased. 409 `deletion-blocked` names what must be handed over first."""
    await delete_account(app_context(state), caller)


@post(
    "/v1/organizations/{organization_id:int}/invitations",
    access=(ANY_ADMIN,),
    operation_id="inviteToOrganization",
)
async def invite(
    organization_id: IdParam,
    data: JSONBody[InvitationCreate],
    caller: Me,
    accounts: NamedDependency[AccountService],
) -> Invitation:
    """Offer a role to an address (its admin, or a prefecture admin): a single-use link is mailed to it."""
    return await accounts.invite(caller, organization_id, data)


@get(
    "/v1/organizations/{organization_id:int}/invitations",
    access=(ANY_ADMIN,),
    operation_id="listPendingInvitations",
)
async def list_invitations(
    organization_id: IdParam, caller: Me, accounts: NamedDependency[AccountService]
) -> list[Invitation]:
    """The organisation's invitations not yet accepted, revoked or expired."""
    return await accounts.pending_invitations(caller, organization_id)


@delete(
    "/v1/organizations/{organization_id:int}/invitations/{invitation_id:int}",
    access=(ANY_ADMIN,),
    operation_id="revokeInvitation",
    status_code=204,
)
async def revoke_invitation(
    organization_id: IdParam,
    invitation_id: IdParam,
    caller: Me,
    accounts: NamedDependency[AccountService],
) -> None:
    """Withdraw a pending invitation: its link stops working."""
    await accounts.revoke_invitation(caller, organization_id, invitation_id)


@post("/v1/invitations/{token:str}/accept", access=SIGNED_IN, operation_id="acceptInvitation")
async def accept_invitation(token: LinkTokenParam, caller: Me, accounts: NamedDependency[AccountService]) -> Membership:
    """Take the offered role, signed in with the invited address, verified."""
    return await accounts.accept_invitation(caller, token)


@get("/invitations", access=PUBLIC, operation_id="invitationPage", include_in_schema=False, media_type="text/html")
async def invitation_page(token: TokenQuery = "") -> Response[str]:
    return link_page("invitation", token)


# Changes nothing; a replayed ticket would have expired. Not stored for Idempotency-Key.
@post("/v1/realtime/tickets", access=SIGNED_IN, operation_id="createRealtimeTicket", idempotency=False)
async def create_realtime_ticket(
    caller: Me,
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
    tags=["accounts"],
    route_handlers=[
        create_account,
        verify_email,
        resend_verification,
        change_email,
        verify_page,
        verify_form,
        change_password,
        request_password_reset,
        reset_password,
        reset_page,
        reset_form,
        create_session,
        delete_current_session,
        get_me,
        update_me,
        list_sessions,
        revoke_session,
        revoke_other_sessions,
        export_me,
        delete_me,
        declare_residency,
        get_residency,
        list_residency_requests,
        approve_residency,
        decline_residency,
        invite,
        list_invitations,
        revoke_invitation,
        accept_invitation,
        invitation_page,
        create_realtime_ticket,
    ],
    dependencies={
        "accounts": Provide(account_service, sync_to_thread=False),
        "residencies": Provide(residency_service, sync_to_thread=False),
    },
)
