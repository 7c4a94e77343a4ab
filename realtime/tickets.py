"""Signed, short-lived tickets naming the topics a websocket may join.

The backend decides the topics (it knows roles and organisations) and signs them; the
gateway only checks the signature and the expiry, so it never needs the domain tables.
Format: "v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>".

A ticket is bound to the login session that asked for it (`sid`) and carries a random id
(`jti`) that the gateway records on first use, so it opens one socket, once, and never after
its session ended (see realtime/gateway.py). `since` gives, per topic, the earliest time whose
events the ticket may replay on resume: when the session began, or later if the membership
that grants the topic is newer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import msgspec

_VERSION = "v1"


class TicketClaims(msgspec.Struct, frozen=True):
    sub: int  # account id
    sid: int  # login session id
    jti: str  # random ticket id: a ticket opens one socket
    topics: tuple[str, ...]
    since: tuple[int, ...]  # per topic (same order), unix seconds: no replay of older events
    exp: int  # unix seconds
    iat: int


def new_ticket_id() -> str:
    return secrets.token_urlsafe(16)


class TicketError(Exception):
    """Why a ticket was refused; `expired` gets its own close code so clients know to renew."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder(TicketClaims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest()


def sign_ticket(secret: bytes, claims: TicketClaims) -> str:
    payload = _b64(_encode.encode(claims))
    return f"{_VERSION}.{payload}.{_b64(_mac(secret, payload))}"


def verify_ticket(secret: bytes, ticket: str, now: float) -> TicketClaims:
    version, _, rest = ticket.partition(".")
    payload, _, signature = rest.partition(".")
    if version != _VERSION or not payload or not signature or len(ticket) > 16_384:
        raise TicketError("malformed ticket")
    try:
        given = _unb64(signature)
    except ValueError:
        raise TicketError("malformed ticket") from None
    # Constant-time comparison: the signature is the only secret-derived value here.
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise TicketError("bad signature")
    try:
        claims = _decode.decode(_unb64(payload))
    except (ValueError, msgspec.DecodeError):
        raise TicketError("malformed ticket") from None
    if len(claims.since) != len(claims.topics) or not claims.jti:
        raise TicketError("malformed ticket")
    if claims.exp <= now:
        raise TicketError("ticket expired", expired=True)
    return claims
