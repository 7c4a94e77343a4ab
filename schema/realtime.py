"""Realtime tickets and the websocket protocol."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import msgspec

from schema.base import Input, Wire

# Outbox topic of messages for the gateways themselves (LiveAccessRevoked). It cannot match
# `Topic`, so no ticket can name it, and the gateway never routes it to a socket.
CONTROL_TOPIC: Final = "_gateway"

Topic = Annotated[str, msgspec.Meta(min_length=3, max_length=100, pattern=r"^[a-z_]+(:[a-z_0-9]+)+$")]


class TicketCreate(Input):
    # Omit to get every topic the caller may see; name public ones (e.g. vacancy:facility:9) to add them.
    topics: Annotated[list[Topic], msgspec.Meta(max_length=200)] | None = None


class Ticket(Wire):
    ticket: str
    url: str
    topics: list[str]
    expires_at: datetime


# Client → gateway.
class Resume(msgspec.Struct, tag_field="type", tag="resume"):
    after: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


# Gateway → client. Events themselves are sent pre-encoded by the relay as
# {"id": seq, "topic": …, "type": …, "data": {…}} (realtime/relay.py, WireEvent).


class Welcome(msgspec.Struct, tag_field="type", tag="welcome"):
    """First message: the newest event id, the cursor to resume from if nothing else arrives."""

    head: int
    topics: list[str]


class Resync(msgspec.Struct, tag_field="type", tag="resync"):
    """The cursor is older than the retained events: refetch state over HTTP, then resume from `head`."""

    head: int


class Ping(msgspec.Struct, tag_field="type", tag="ping"):
    pass
