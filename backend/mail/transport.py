"""SMTP delivery with aiosmtplib, configured by one URL (MUSUBI_SMTP_URL).

    smtp://user:pass@relay.example.jp:587?starttls=true&timeout=10
    smtps://user:pass@relay.example.jp:465          (TLS from the first byte)
    smtp://127.0.0.1:8025?starttls=false            (the local sink of `musubi dev`)

`starttls=true` makes the upgrade mandatory (a relay that does not offer it fails the send, so
credentials never cross in clear); `false` never upgrades; left out, it is used when offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

_BOOLEAN = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None
    timeout_s: float
    validate_certs: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """Raises ValueError naming what is wrong (the message never repeats the password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("the scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("a host name is needed")
    query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "verify"}
    if unknown:
        raise ValueError(f"unknown options: {', '.join(sorted(unknown))}")
    for flag in ("starttls", "verify"):
        if flag in query and query[flag] not in _BOOLEAN:
            raise ValueError(f"{flag} must be true or false")
    use_tls = parts.scheme == "smtps"
    start_tls = _BOOLEAN[query["starttls"]] if "starttls" in query else None
    if use_tls and start_tls:
        raise ValueError("smtps:// is TLS already; starttls=true applies to smtp://")
    try:
        timeout_s = float(query.get("timeout", "10"))
        port = parts.port or (465 if use_tls else 587 if start_tls else 25)
    except ValueError:
        raise ValueError("the port and timeout must be numbers") from None
    if not 0 < timeout_s <= 300:
        raise ValueError("timeout must be between 0 and 300 seconds")
    return SmtpTarget(
        hostname=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
        timeout_s=timeout_s,
        validate_certs=_BOOLEAN[query.get("verify", "true")],
    )


class SmtpTransport:
    """One connection per message: mail is rare here, and a fresh connection never inherits a
    half-broken session from an earlier failure."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        return cls(parse_smtp_url(url))

    async def send(self, message: EmailMessage) -> None:
        t = self.target
        await aiosmtplib.send(
            message,
            hostname=t.hostname,
            port=t.port,
            username=t.username,
            password=t.password,
            use_tls=t.use_tls,
            start_tls=t.start_tls,
            timeout=t.timeout_s,
            validate_certs=t.validate_certs,
        )
