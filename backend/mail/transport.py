"""SMTP delivery with aiosmtplib, configured by one URL (MUSUBI_SMTP_URL).

    smtp://user:pass@relay.example.jp:587?starttls=true&timeout=10
    smtps://user:pass@relay.example.jp:465          (TLS from the first byte)
    smtp://127.0.0.1:8025?starttls=false            (the local sink of `musubi dev`)

`starttls=true` makes the upgrade mandatory (a relay that does not offer it fails the send, so
credentials never cross in clear); `false` never upgrades; left out, it is used when offered.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from backend.core.settings import SmtpTarget, parse_smtp_url


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
