"""Realtime events: one tagged union, ids and minimal fields only, never personal data.

Clients fetch details over HTTP under their *current* authorisation; an event only says
that something changed and where to look.
"""

from __future__ import annotations

import msgspec

from schema.accounts import Role


class Event(msgspec.Struct, rename="camel", kw_only=True, tag_field="type"):
    pass


class MembershipGranted(Event, tag="account.membership_granted"):
    organization_id: int
    role: Role


AnyEvent = MembershipGranted


def event_type(event: Event) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str), f"{type(event).__name__} has no tag"
    return tag
