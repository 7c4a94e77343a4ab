"""The one way to build the aioapns client (token-based auth with a .p8 key)."""

from __future__ import annotations

import ssl

from aioapns import APNs

from backend.core.settings import Settings


def make_apns_client(
    *,
    key_pem: str,
    key_id: str,
    team_id: str,
    topic: str,
    use_sandbox: bool = False,
    host: str | None = None,
    port: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> APNs:
    """An APNs client; `host`/`port`/`ssl_context` point it elsewhere (a staging relay, a test stand-in)."""
    client = APNs(
        key=key_pem,
        key_id=key_id,
        team_id=team_id,
        topic=topic,
        use_sandbox=use_sandbox,
        ssl_context=ssl_context,
        # One connection attempt per send: the worker owns retries, with backoff and a record of each.
        max_connection_attempts=1,
    )
    if host is not None or port is not None:
        # aioapns reads the address from its protocol class; a subclass keeps the rest of the protocol.
        base = client.pool.protocol_class
        client.pool.protocol_class = type(
            "RedirectedAPNsProtocol",
            (base,),
            {"APNS_SERVER": host or base.APNS_SERVER, "APNS_PORT": port or getattr(base, "APNS_PORT", 443)},
        )
    return client


def apns_client_from_settings(settings: Settings) -> APNs | None:
    if not (settings.apns_key_file and settings.apns_key_id and settings.apns_team_id and settings.apns_topic):
        return None
    with open(settings.apns_key_file, encoding="utf-8") as key_file:
        key_pem = key_file.read()
    return make_apns_client(
        key_pem=key_pem,
        key_id=settings.apns_key_id,
        team_id=settings.apns_team_id,
        topic=settings.apns_topic,
        use_sandbox=settings.apns_sandbox,
    )
