"""Accounts, sessions, organisations and memberships."""

from datetime import datetime
from typing import Annotated, Any, Literal

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


# Kinds of notice a resident may turn off per channel (README: "Notices").
NoticeKind = Literal[
    "booking_confirmed",
    "payment_due",
    "booking_cancelled_by_facility",
    "waitlist_offer",
    "lottery_result",
    "childcare_confirmed",
    "childcare_reminder",
    "childcare_cancelled_by_nursery",
]


class NotificationPreferences(Wire):
    """Per channel, the kinds turned on (true) or off (false); a kind not named is on."""

    push: dict[NoticeKind, bool] = msgspec.field(default_factory=dict)
    email: dict[NoticeKind, bool] = msgspec.field(default_factory=dict)


class Me(Account):
    memberships: list[Membership]
    notifications: NotificationPreferences


class NotificationPreferencesUpdate(Input):
    push: dict[NoticeKind, bool] = msgspec.field(default_factory=dict)
    email: dict[NoticeKind, bool] = msgspec.field(default_factory=dict)


class ProfileUpdate(Input):
    display_name: DisplayName | None = None
    locale: Locale | None = None
    # Merged into the stored preferences: only the kinds named change.
    notifications: NotificationPreferencesUpdate | None = None


class SessionInfo(Wire):
    id: int
    device: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool


class AccountExport(Wire):
    """Everything held about the caller (APPI 開示): the account, and its rows in every table that names it."""

    account: Me
    records: dict[str, list[dict[str, Any]]]


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
    "AccountExport",
    "EmailChange",
    "EmailVerification",
    "Id",
    "Invitation",
    "InvitationCreate",
    "LinkToken",
    "Me",
    "Member",
    "Membership",
    "NoticeKind",
    "NotificationPreferences",
    "NotificationPreferencesUpdate",
    "Organization",
    "OrganizationCreate",
    "PasswordChange",
    "PasswordReset",
    "PasswordResetRequest",
    "ProfileUpdate",
    "Session",
    "SessionCreate",
    "SessionInfo",
]


ResidencyStatus = Literal["pending", "verified", "declined", "ended"]


class ResidencyDeclaration(Input):
    municipality_id: MunicipalityId


class Residency(Wire):
    """The caller's declared municipality of residence and where its verification stands: only
    `verified` gives resident fees, the resident booking horizon and the lottery's resident tier."""

    id: int
    municipality_id: int
    status: ResidencyStatus
    declared_at: datetime
    decided_at: datetime | None
    decline_reason: str | None


class ResidencyRequest(Wire):
    """A declaration waiting in the municipality's queue: whom to check at the counter."""

    id: int
    account_id: int
    display_name: str
    email: str
    municipality_id: int
    declared_at: datetime


class ResidencyDecline(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
