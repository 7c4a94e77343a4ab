"""Accounts, sessions, organisations and memberships."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schema.base import Id, Input, Wire

OrganizationKind = Literal[
    "municipality",
    "facility_operator",
    "nursery",
    "guidance_center",  # 児童相談所
    "shelter",
    "fire_department",
    "hospital",
    "prefecture",
]
Role = Literal["admin", "staff", "caseworker", "paramedic", "er_staff"]
Locale = Literal["ja", "en"]

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
# Length, not composition rules: NIST SP 800-63B. The upper bound keeps argon2 input sane.
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
OrganizationName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
MunicipalityId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class AccountCreate(Input):
    email: Email
    password: Password
    display_name: DisplayName
    locale: Locale = "ja"


class Membership(Wire):
    organization_id: int
    organization_kind: OrganizationKind
    role: Role


class Account(Wire):
    id: int
    email: str
    display_name: str
    locale: Locale
    created_at: datetime
    # Until the link mailed to `email` is followed, the account may look but not book, reserve or apply.
    email_verified: bool


# Single-use tokens from mail links are 43 URL-safe characters after their prefix.
LinkToken = Annotated[str, msgspec.Meta(min_length=10, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class EmailVerification(Input):
    token: LinkToken


class EmailChange(Input):
    email: Email
    # A stolen session alone must not move the account to another address.
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Me(Account):
    memberships: list[Membership]


class SessionCreate(Input):
    # Any string up to the limits: a login form must not reveal which e-mails are valid.
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Session(Wire):
    token: str
    expires_at: datetime
    account: Account


class OrganizationCreate(Input):
    kind: OrganizationKind
    name: OrganizationName
    municipality_id: MunicipalityId | None = None


class Organization(Wire):
    id: int
    kind: OrganizationKind
    name: str
    municipality_id: int | None
    created_at: datetime


class PasswordChange(Input):
    current: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    new: Password


class PasswordResetRequest(Input):
    # Any string up to the limits: the answer must not reveal which addresses have accounts.
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]


class PasswordReset(Input):
    password: Password


class InvitationCreate(Input):
    email: Email
    role: Role


class Invitation(Wire):
    """A pending offer of a role, mailed to `email` as a single-use link (招待)."""

    id: int
    organization_id: int
    email: str
    role: Role
    invited_by: int | None
    created_at: datetime
    expires_at: datetime


class Member(Wire):
    organization_id: int
    account_id: int
    email: str
    display_name: str
    role: Role
    created_at: datetime


__all__ = [
    "Account",
    "AccountCreate",
    "EmailChange",
    "EmailVerification",
    "Id",
    "Invitation",
    "InvitationCreate",
    "LinkToken",
    "Me",
    "Member",
    "Membership",
    "Organization",
    "OrganizationCreate",
    "PasswordChange",
    "PasswordReset",
    "PasswordResetRequest",
    "Session",
    "SessionCreate",
]
